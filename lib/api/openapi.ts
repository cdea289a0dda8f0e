import { type JsonSchema, toJsonSchema, toJsonSchemaDefs } from '@valibot/to-json-schema';
import type * as v from 'valibot';
import { ERRORS, type ErrorCode } from '../errors.ts';
import type { FunctionDoc, ParamSpec, VidaxFunction } from '../http/function.ts';

/** Codes any endpoint may answer: the key check, the body limit, a bug. */
export const COMMON_ERRORS: readonly ErrorCode[] = ['unauthorized', 'payload_too_large', 'internal_error'];

type Json = Record<string, unknown>;

type Named = Readonly<Record<string, v.GenericSchema>>;

/** Points valibot's `#/$defs/X` references at the document's `#/components/schemas/X`. */
const toComponents = (schema: unknown): Json =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;

/**
 * A valibot schema as JSON Schema 2020-12 (the dialect of OpenAPI 3.1): a schema found in
 * `named` becomes a `$ref` to its component; checks JSON Schema cannot say are left out.
 */
export function jsonSchemaOf(schema: v.GenericSchema, named: Named = {}): Json {
  const converted = toJsonSchema(schema, { target: 'draft-2020-12', errorMode: 'ignore', definitions: { ...named } }) as JsonSchema & Json;
  const { $schema: _dialect, $defs: _defs, ...rest } = converted;
  return toComponents(rest);
}

/** `/jobs/:id` → `/jobs/{id}` (a `:path+` that spans segments is documented as `{path}`). */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)[+*?]?/g, '{$1}');
const pathParams = (path: string) => [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string);

const ERROR_REF = { $ref: '#/components/schemas/Error' };

function parameter(name: string, where: 'path' | 'query' | 'header', spec: ParamSpec | undefined, named: Named): Json {
  return {
    name,
    in: where,
    required: where === 'path' ? true : (spec?.required ?? false),
    ...(spec?.description ? { description: spec.description } : {}),
    schema: spec?.schema ? jsonSchemaOf(spec.schema, named) : { type: 'string' },
  };
}

/** The error answers of an operation, one per status, each naming its codes. */
function errorResponses(doc: FunctionDoc): Record<string, Json> {
  const codes = [...new Set([...COMMON_ERRORS, ...(doc.errors ?? [])])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERRORS[code].status, [...(byStatus.get(ERRORS[code].status) ?? []), code]);
  const out: Record<string, Json> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: list.map((c) => `\`${c}\`: ${ERRORS[c].meaning}`).join('; '),
      content: {
        'application/json': {
          schema: { allOf: [ERROR_REF, { properties: { error: { properties: { code: { enum: list } } } } }] },
        },
      },
    };
  }
  return out;
}

function operation(fn: VidaxFunction<never>, named: Named): Json {
  const { doc } = fn;
  const params = [
    ...pathParams(fn.path).map((name) => parameter(name, 'path', doc.params?.[name], named)),
    ...Object.entries(doc.query ?? {}).map(([name, spec]) => parameter(name, 'query', spec, named)),
    ...Object.entries(doc.headers ?? {}).map(([name, spec]) => parameter(name, 'header', spec, named)),
  ];
  const responses: Record<string, Json> = {};
  for (const [status, r] of Object.entries(doc.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.headers
        ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) }
        : {}),
      ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: jsonSchemaOf(r.schema, named) } } } : {}),
    };
  }
  Object.assign(responses, errorResponses(doc));
  const bodies = Object.entries(doc.requestBody ?? (fn.body ? { 'application/json': fn.body } : {}));
  return {
    operationId: `${fn.method.toLowerCase()}${fn.path.replace(/[/:]+(\w)/g, (_m, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    ...(doc.tags ? { tags: [...doc.tags] } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(bodies.length > 0
      ? { requestBody: { required: true, content: Object.fromEntries(bodies.map(([type, schema]) => [type, { schema: jsonSchemaOf(schema, named) }])) } }
      : {}),
    responses,
  };
}

/**
 * The OpenAPI 3.1 document of the mounted functions: each one's method, path, parameters,
 * body schema, responses and error codes, plus the whole error catalogue. Schemas in `named`
 * are components, referenced wherever they appear.
 */
export function buildOpenApi(functions: readonly VidaxFunction<never>[], version: string, named: Named = {}): Json {
  const paths: Record<string, Record<string, Json>> = {};
  const sorted = [...functions].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.method < b.method ? -1 : 1));
  for (const fn of sorted) {
    const p = openApiPath(fn.path);
    paths[p] = { ...paths[p], [fn.method.toLowerCase()]: operation(fn, named) };
  }
  const catalogue = Object.entries(ERRORS) as [ErrorCode, (typeof ERRORS)[ErrorCode]][];
  return {
    openapi: '3.1.0',
    info: {
      title: 'VIDAX',
      version,
      description: 'Runs ComfyUI workflows as durable jobs. Every endpoint needs the X-API-Key header. Generated from functions/ by `npm run gen:openapi`.',
    },
    servers: [{ url: 'http://127.0.0.1:8787', description: 'the default listen address' }],
    security: [{ apiKey: [] }],
    tags: [
      { name: 'service', description: 'VIDAX itself' },
      { name: 'comfyui', description: 'the ComfyUI VIDAX drives' },
      { name: 'jobs', description: 'jobs and their runs' },
    ],
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      schemas: {
        ...toComponents(toJsonSchemaDefs({ ...named }, { target: 'draft-2020-12', errorMode: 'ignore' })),
        ErrorCode: {
          description: 'The error catalogue (lib/errors.ts): every code a client can see, with its HTTP status and meaning.',
          oneOf: catalogue.map(([code, e]) => ({ const: code, description: `${e.status} (${e.scope === 'run' ? 'in a manifest' : e.scope === 'both' ? 'in a response or a manifest' : 'in a response'}): ${e.meaning}` })),
        },
        Error: {
          type: 'object',
          required: ['ok', 'error'],
          additionalProperties: false,
          properties: {
            ok: { const: false },
            error: {
              type: 'object',
              required: ['code', 'message'],
              additionalProperties: false,
              properties: { code: { $ref: '#/components/schemas/ErrorCode' }, message: { type: 'string' }, details: {} },
            },
          },
        },
      },
    },
  };
}
