/**
 * The outbound-URL guard: the one way VIDAX makes a request to a URL a client gave it (URL
 * inputs, webhooks). Nothing leaves unless the config allows the host, and never to an address
 * that reaches the box itself or its private network.
 *
 *   const guard = createUrlGuard({ allow: ['files.example.com', '.cdn.example.net'] });
 *   guard.check('https://files.example.com/a.png');            // → URL, or throws OutboundError
 *   const res = await guard.request(url, { method: 'POST', headers, body: JSON.stringify(x) });
 *   res.status; res.headers; res.url;  for await (const chunk of res.body) …  // capped
 *   await guard.download(url, '/run/inputs/face.png.part');    // → {bytes, sha256, contentType, url}
 *   await guard.close();
 *
 * Rules, each failure an `OutboundError` whose `reason` is safe to show a client:
 * - scheme http: or https: only; no user name or password in the URL;
 * - host allowed by `allow`: an entry `name` matches that host exactly, an entry `.name` (or
 *   `*.name`) matches any host below it; an empty list refuses everything;
 * - the address: host names are resolved once, at connect time, inside the dispatcher's
 *   `connect`; every answer is checked against ./ip-ranges.ts (loopback, private, link-local,
 *   unique-local, CGNAT, metadata, IPv4-mapped IPv6, …) and the socket connects to the checked
 *   address itself, so there is no second lookup to rebind; a literal IP is checked the same way;
 * - redirects are followed by hand (at most `maxRedirects`), each target checked like the first;
 *   301/302/303 turn into a GET without a body, 307/308 resend it;
 * - `maxBytes` caps the response body (declared Content-Length or counted), `timeoutMs` the
 *   whole exchange, body included.
 * `allowLoopback` exists for tests that reach a local server; the default refuses loopback.
 * `dispatcher` is usable alone with undici (it applies the host and address rules).
 */
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createWriteStream } from 'node:fs';
import { isIP } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Agent, buildConnector, type Dispatcher, request as undiciRequest } from 'undici';
import { blockedRange } from './ip-ranges.ts';

export type Resolver = (hostname: string) => Promise<readonly { address: string; family?: number }[]>;

export interface UrlGuardOptions {
  allow: readonly string[];
  allowLoopback?: boolean;
  /** Every address of a host name; default `dns.lookup(host, {all: true})`. */
  resolve?: Resolver;
  /** Response body cap in bytes (default 10 MiB). */
  maxBytes?: number;
  /** Whole-exchange timeout in ms (default 30 s). */
  timeoutMs?: number;
  /** Default 5. */
  maxRedirects?: number;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** Overrides the guard's cap for this request. */
  maxBytes?: number;
}

export interface GuardedResponse {
  /** The final URL after redirects. */
  url: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body, failing with `OutboundError('too_large')` past the cap. Consume or `cancel()` it. */
  body: AsyncIterable<Uint8Array>;
  cancel(): void;
}

export interface UrlGuard {
  check(url: string): URL;
  request(url: string, init?: RequestInit): Promise<GuardedResponse>;
  /** GETs `url` into `file` (created or truncated); non-2xx is an error. */
  download(url: string, file: string, init?: RequestInit): Promise<{ bytes: number; sha256: string; contentType: string | null; url: string }>;
  readonly dispatcher: Dispatcher;
  close(): Promise<void>;
}

export type OutboundFailure = 'refused' | 'too_large' | 'timeout' | 'status' | 'network';

/** Why an outbound request did not happen or did not finish; `message` is safe for clients. */
export class OutboundError extends Error {
  constructor(readonly kind: OutboundFailure, message: string) {
    super(message);
    this.name = 'OutboundError';
  }
}

const refused = (why: string) => new OutboundError('refused', why);

function normalHost(hostname: string): string {
  const h = hostname.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export function hostAllowed(hostname: string, allow: readonly string[]): boolean {
  const host = normalHost(hostname);
  return allow.some((entry) => {
    const e = entry.toLowerCase().replace(/^\*\./, '.');
    return e.startsWith('.') ? host.endsWith(e) && host.length > e.length : host === normalHost(e);
  });
}

const defaultResolve: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function createUrlGuard(options: UrlGuardOptions): UrlGuard {
  const allow = [...options.allow];
  const resolve = options.resolve ?? defaultResolve;
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRedirects = options.maxRedirects ?? 5;

  const checkAddress = (address: string, host: string): void => {
    const range = blockedRange(address);
    if (range && !(range === 'loopback' && options.allowLoopback)) {
      throw refused(`${host} resolves to a ${range} address, which is never fetched`);
    }
  };

  /** Resolves once, checks every answer, returns the address to connect to. */
  const pickAddress = async (hostname: string): Promise<string> => {
    const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    if (!hostAllowed(host, allow)) throw refused(`host ${host} is not in the allow-list`);
    if (isIP(host)) {
      checkAddress(host, host);
      return host;
    }
    let answers: readonly { address: string }[];
    try {
      answers = await resolve(host);
    } catch {
      throw new OutboundError('network', `cannot resolve ${host}`);
    }
    if (answers.length === 0) throw new OutboundError('network', `cannot resolve ${host}`);
    for (const a of answers) checkAddress(a.address, host);
    return (answers[0] as { address: string }).address;
  };

  const baseConnect = buildConnector({ timeout: Math.min(timeoutMs, 10_000) });
  const dispatcher = new Agent({
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect(opts, callback) {
      pickAddress(opts.hostname).then(
        (address) => baseConnect({ ...opts, hostname: address }, callback),
        (err: Error) => callback(err, null),
      );
    },
  });

  const check = (raw: string): URL => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw refused('not a valid absolute URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refused(`scheme ${url.protocol} is not allowed; use http or https`);
    if (url.username || url.password) throw refused('credentials in URLs are not allowed');
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (!hostAllowed(host, allow)) throw refused(`host ${host} is not in the allow-list`);
    if (isIP(host)) checkAddress(host, host);
    return url;
  };

  const request = async (raw: string, init: RequestInit = {}): Promise<GuardedResponse> => {
    const cap = init.maxBytes ?? maxBytes;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    let url = check(raw);
    let method = init.method ?? 'GET';
    let body = init.body;
    for (let hop = 0; ; hop++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await undiciRequest(url, { method: method as Dispatcher.HttpMethod, headers: init.headers ?? {}, body: body ?? null, signal, dispatcher });
      } catch (err) {
        throw outboundFrom(err, timeout, url);
      }
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode) && typeof location === 'string') {
        discard(res.body);
        if (hop >= maxRedirects) throw refused(`more than ${maxRedirects} redirects`);
        try {
          url = check(new URL(location, url).href);
        } catch (err) {
          throw err instanceof OutboundError ? refused(`redirect refused: ${err.message}`) : err;
        }
        if (res.statusCode <= 303 && method !== 'GET' && method !== 'HEAD') {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > cap) {
        discard(res.body);
        throw new OutboundError('too_large', `response is ${declared} bytes, over the ${cap}-byte limit`);
      }
      return {
        url: url.href,
        status: res.statusCode,
        headers: res.headers,
        body: capped(res.body, cap, timeout, url),
        cancel: () => discard(res.body),
      };
    }
  };

  const download: UrlGuard['download'] = async (raw, file, init = {}) => {
    const { body: _unused, ...rest } = init;
    const res = await request(raw, { ...rest, method: 'GET' });
    if (res.status < 200 || res.status > 299) {
      res.cancel();
      throw new OutboundError('status', `${new URL(res.url).host} answered HTTP ${res.status}`);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    async function* counted(source: AsyncIterable<Uint8Array>) {
      for await (const chunk of source) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        yield chunk;
      }
    }
    await pipeline(res.body, counted, createWriteStream(file));
    const type = res.headers['content-type'];
    return { bytes, sha256: hash.digest('hex'), contentType: typeof type === 'string' ? type : null, url: res.url };
  };

  return { check, request, download, dispatcher, close: () => dispatcher.close() };
}

/** Drops a body we will not read (its late 'error' has a listener, so it cannot crash us). */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

const UNDICI_TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** What a failed exchange was, as an OutboundError (exported for its test). */
export function outboundFrom(err: unknown, timeout: AbortSignal, url: URL): OutboundError {
  if (err instanceof OutboundError) return err;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof OutboundError) return cause;
  const code = (err as { code?: string }).code ?? (cause as { code?: string } | undefined)?.code;
  // undici's own connect/headers/body timers (set to the same budget) can fire before the
  // exchange's timer on a loaded machine: a timeout too, not a network error.
  if (timeout.aborted || (code !== undefined && UNDICI_TIMEOUTS.has(code))) return new OutboundError('timeout', `${url.host} did not answer in time`);
  return new OutboundError('network', `cannot reach ${url.host}${code ? ` (${code})` : ''}`);
}

async function* capped(source: Dispatcher.ResponseData['body'], cap: number, timeout: AbortSignal, url: URL) {
  let total = 0;
  try {
    for await (const chunk of source) {
      total += chunk.byteLength;
      if (total > cap) throw new OutboundError('too_large', `response exceeds the ${cap}-byte limit`);
      yield chunk;
    }
  } catch (err) {
    throw outboundFrom(err, timeout, url);
  } finally {
    discard(source);
  }
}
