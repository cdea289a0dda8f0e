import * as v from 'valibot';
import { readJson } from './body.ts';
import type { JsonMeterLimits } from './json-meter.ts';
import { describeError, type ErrorCode, methodNotAllowed, notFound, payloadTooLarge, type VidaxError, vidaxError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { requestIdOf } from './request-id.ts';
import { json } from './respond.ts';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What every function needs from its context. */
export interface FunctionContext {
  readonly auth: (request: Request) => void;
  readonly log: Logger;
  readonly config: { readonly maxBodyBytes: number } & Partial<JsonMeterLimits>;
}

export interface HandlerInput<C, B> {
  request: Request;
  ctx: C;
  params: Readonly<Record<string, string>>;
  body: B;
  requestId: string;
}

/** One documented answer of an endpoint: the schema of its body (JSON unless `contentType` says otherwise). */
export interface ResponseSpec {
  description: string;
  /** The body's schema; none for an answer without a body (204, 304). */
  schema?: v.GenericSchema;
  /** Default `application/json`. */
  contentType?: string;
  /** Response headers it sets: name → meaning. */
  headers?: Readonly<Record<string, string>>;
}

/** A path parameter, query parameter or request header the endpoint reads. */
export interface ParamSpec {
  description: string;
  /** Default: a string. */
  schema?: v.GenericSchema;
  required?: boolean;
}

/**
 * What an endpoint tells its clients, beside its method, path and body schema: the OpenAPI
 * document (GET /openapi.json, `npm run gen:openapi`) is generated from it, and contract tests
 * check real answers against it. `summary` and `responses` are required of every function.
 */
export interface FunctionDoc {
  summary: string;
  description?: string;
  tags?: readonly string[];
  /** The request body by content type, for a function that reads it itself (without `body`). */
  requestBody?: Readonly<Record<string, v.GenericSchema>>;
  /** Success answers by HTTP status. */
  responses: Readonly<Record<number, ResponseSpec>>;
  /** Error codes it may answer besides those of every endpoint (unauthorized, payload_too_large, internal_error). */
  errors?: readonly ErrorCode[];
  /** Path parameters by name (undeclared ones are documented as plain strings). */
  params?: Readonly<Record<string, ParamSpec>>;
  query?: Readonly<Record<string, ParamSpec>>;
  headers?: Readonly<Record<string, ParamSpec>>;
}

/** One endpoint: a fetch-style handler that knows its own method, path and input schema. */
export interface VidaxFunction<C extends FunctionContext = FunctionContext> {
  readonly method: Method;
  readonly path: string;
  /** Schema of the JSON body it reads, if any. */
  readonly body: v.GenericSchema | undefined;
  readonly doc: FunctionDoc;
  /** Standalone: checks the key, path and method itself and answers every error as JSON. */
  fetch(request: Request, ctx: C): Promise<Response>;
  /** The path's params (decoded), or null when `pathname` is not this function's path. */
  match(pathname: string): Record<string, string> | null;
  /**
   * Behind the router (lib/http/router.ts), which has already checked the key and the method,
   * minted the request id and maps what this throws: only the path, body and handler remain.
   */
  serve(request: Request, ctx: C, requestId: string): Promise<Response>;
}

export interface Definition<C, S extends v.GenericSchema | undefined = undefined> extends FunctionDoc {
  method: Method;
  /** itty-router style path, e.g. `/jobs/:id`; a last `:name+` takes the rest of the path, undecoded. */
  path: string;
  /** Schema of the JSON body; without one the body is not read. */
  body?: S;
  /** The declared-size limit for this request (default `config.maxBodyBytes`), for handlers that stream bodies. */
  bodyLimit?: (request: Request, ctx: C) => number;
  handler(input: HandlerInput<C, S extends v.GenericSchema ? v.InferOutput<S> : undefined>): Promise<Response> | Response;
}

function compilePath(path: string): (pathname: string) => Record<string, string> | null {
  const names: string[] = [];
  const source = path
    .split('/')
    .map((part) => {
      if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (part.endsWith('+')) {
        // `:name+` (last): the rest of the path, slashes included, left percent-encoded for the handler
        names.push(`${part.slice(1, -1)}+`);
        return '(.+?)';
      }
      names.push(part.slice(1));
      return '([^/]+)';
    })
    .join('/');
  const re = new RegExp(`^${source}/?$`);
  return (pathname) => {
    const m = re.exec(pathname);
    if (!m) return null;
    const params: Record<string, string> = {};
    try {
      names.forEach((name, i) => {
        if (name.endsWith('+')) params[name.slice(0, -1)] = m[i + 1] ?? '';
        else params[name] = decodeURIComponent(m[i + 1] ?? '');
      });
    } catch {
      return null; // malformed percent-encoding: no such resource
    }
    return params;
  };
}

// An absolute URL whose path holds only these characters (no `.`, `%`, `\\`, query or fragment)
// has exactly that path as its WHATWG pathname; anything else goes through `new URL`.
const PLAIN_URL = /^https?:\/\/[A-Za-z0-9.:[\]-]+(\/[A-Za-z0-9_~/-]*)$/;

/** The pathname of `request.url`, without parsing the URL in the common case. */
export function pathnameOf(request: Request): string {
  const url = request.url;
  return PLAIN_URL.exec(url)?.[1] ?? new URL(url).pathname;
}

/** Turns issues into `[{path, message}]` for `validation_failed` details. */
export function issueList(issues: readonly v.BaseIssue<unknown>[]): { path: string; message: string }[] {
  return issues.map((issue) => ({ path: v.getDotPath(issue) ?? '', message: issue.message }));
}

export function validationFailed(issues: { path: string; message: string }[], message?: string): VidaxError {
  return vidaxError('validation_failed', message ?? `request failed validation (${issues.length} issue${issues.length === 1 ? '' : 's'})`, {
    details: issues,
  });
}

/** The JSON value limits of a config, when it sets them (a function's context may be a slice). */
export const meterLimits = (config: Partial<JsonMeterLimits>): JsonMeterLimits | undefined =>
  config.maxJsonValues && config.maxJsonArrayLength
    ? { maxJsonValues: config.maxJsonValues, maxJsonArrayLength: config.maxJsonArrayLength }
    : undefined;

/** Maps a thrown error to the one JSON error shape, logging internal ones in full. */
export function errorResponse(err: unknown, log: Logger, requestId: string): Response {
  const { status, headers, body, internal } = describeError(err);
  if (internal) {
    const e = err instanceof Error ? { error: err.message, stack: err.stack } : { error: String(err) };
    log.error('unhandled error', { request_id: requestId, ...e });
  }
  return json(body, status, { ...headers, 'x-request-id': requestId });
}

export function defineFunction<C extends FunctionContext, S extends v.GenericSchema | undefined = undefined>(
  def: Definition<C, S>,
): VidaxFunction<C> {
  const match = compilePath(def.path);
  /** The body and the handler, once the key, path and method are known to be right. */
  async function handle(request: Request, ctx: C, params: Record<string, string>, requestId: string): Promise<Response> {
    // Every route refuses a declared oversized body, whether or not it reads one.
    const limit = def.bodyLimit ? def.bodyLimit(request, ctx) : ctx.config.maxBodyBytes;
    if (Number(request.headers.get('content-length') ?? 0) > limit) throw payloadTooLarge(limit);
    let body: unknown;
    if (def.body) {
      const raw = await readJson(request, ctx.config.maxBodyBytes, meterLimits(ctx.config));
      const parsed = v.safeParse(def.body, raw, { abortEarly: false });
      if (!parsed.success) throw validationFailed(issueList(parsed.issues));
      body = parsed.output;
    }
    return def.handler({
      request,
      ctx,
      params,
      body: body as S extends v.GenericSchema ? v.InferOutput<S> : undefined,
      requestId,
    });
  }
  const { method: _m, path: _p, body: _b, handler: _h, bodyLimit: _l, ...doc } = def;
  return {
    method: def.method,
    path: def.path,
    body: def.body,
    doc,
    match,
    serve(request, ctx, requestId) {
      const params = match(pathnameOf(request));
      if (!params) throw notFound();
      return handle(request, ctx, params, requestId);
    },
    async fetch(request, ctx) {
      const requestId = requestIdOf(request);
      try {
        ctx.auth(request);
        const params = match(pathnameOf(request));
        if (!params) throw notFound();
        if (request.method !== def.method) throw methodNotAllowed([def.method]);
        const response = await handle(request, ctx, params, requestId);
        response.headers.set('x-request-id', requestId);
        return response;
      } catch (err) {
        return errorResponse(err, ctx.log, requestId);
      }
    },
  };
}
