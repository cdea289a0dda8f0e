// The OpenAPI 3.1 document: valid by a real validator, complete (every mounted function), the
// same as the committed schema/openapi.json, and served behind the key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { validate } from '@readme/openapi-parser';
import * as v from 'valibot';
import { functions } from '../../functions/index.ts';
import openapiFn from '../../functions/openapi.get.ts';
import { ERRORS } from '../../lib/errors.ts';
import { buildOpenApi, openApiPath } from '../../lib/api/openapi.ts';
import { defineFunction } from '../../lib/http/function.ts';
import { NAMED_SCHEMAS } from '../../lib/api/schemas.ts';
import { routeTable } from '../../lib/http/router.ts';
import { VERSION } from '../../lib/version.ts';
import { OPENAPI_FILE, openApiText } from '../../scripts/gen-openapi.ts';
import { authed, baseContext } from '../support/context.ts';

type Op = { operationId: string; requestBody?: unknown; parameters?: { name: string; in: string }[]; responses: Record<string, { description: string }> };
const doc = () => JSON.parse(openApiText()) as { openapi: string; paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, unknown> } };

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document (@readme/openapi-parser)', async () => {
    const result = await validate(doc() as never);
    assert.ok(result.valid, JSON.stringify(result, null, 2).slice(0, 4000));
    assert.equal(result.specification, 'OpenAPI');
    assert.equal(doc().openapi, '3.1.0');
  });

  it('the validator does refuse a broken document (the check above can fail)', async () => {
    const broken = doc();
    (broken.paths['/health'] as Record<string, unknown>).get = { responses: { 200: { content: {} } } }; // no description
    const result = await validate(broken as never);
    assert.equal(result.valid, false);
  });

  it('holds every mounted function, and only those, with its parameters, body and responses', () => {
    const d = doc();
    const ops = Object.entries(d.paths).flatMap(([p, byMethod]) => Object.keys(byMethod).map((m) => `${m.toUpperCase()} ${p}`));
    assert.deepEqual(ops.sort(), routeTable(functions).map((r) => { const [m, p] = r.split(' '); return `${m} ${openApiPath(p ?? '')}`; }).sort());
    for (const fn of functions) {
      const op = d.paths[openApiPath(fn.path)]?.[fn.method.toLowerCase()];
      assert.ok(op, `${fn.method} ${fn.path}`);
      assert.equal(Boolean(op.requestBody), fn.body !== undefined || fn.doc.requestBody !== undefined, `${fn.method} ${fn.path} body`);
      for (const status of Object.keys(fn.doc.responses)) assert.ok(op.responses[status], `${fn.method} ${fn.path} ${status}`);
      assert.ok(op.responses['401'], `${fn.method} ${fn.path} documents 401`);
      const pathParams = [...fn.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      assert.deepEqual(op.parameters?.filter((p) => p.in === 'path').map((p) => p.name) ?? [], pathParams);
    }
    assert.equal(new Set(Object.values(d.paths).flatMap((m) => Object.values(m).map((o) => o.operationId))).size, functions.length);
  });

  it('carries the whole error catalogue, and each operation names the codes it may answer', () => {
    const d = doc();
    const codes = (d.components.schemas.ErrorCode as { oneOf: { const: string }[] }).oneOf.map((x) => x.const);
    assert.deepEqual(codes.sort(), Object.keys(ERRORS).sort());
    const op = (path: string, method: string) => d.paths[path]?.[method] as Op;
    assert.match(op('/jobs', 'post').responses['400']?.description ?? '', /validation_failed.*webhook_url_not_allowed/s);
    assert.match(op('/jobs/{id}', 'get').responses['404']?.description ?? '', /run_not_found/);
  });

  it('documents what endpoints added later may use: several methods on a path, multi-segment params, bodiless answers, query and header params, bodies per content type', async () => {
    const text = v.string();
    const fns = [
      defineFunction({
        method: 'GET',
        path: '/things/:id/files/:path+',
        summary: 'a file',
        query: { after: { description: 'resume after this', schema: v.pipe(v.string(), v.regex(/^\d+$/)) } },
        headers: { Prefer: { description: 'wait=<seconds>' } },
        responses: { 200: { description: 'the file', schema: text, contentType: 'application/octet-stream' }, 304: { description: 'not modified' } },
        errors: ['artifact_not_found'],
        handler: () => new Response(''),
      }),
      defineFunction({ method: 'DELETE', path: '/things/:id/files/:path+', summary: 'drop a file', responses: { 204: { description: 'gone' } }, handler: () => new Response('') }),
      defineFunction({
        method: 'POST',
        path: '/things',
        summary: 'make one',
        requestBody: { 'application/json': v.object({ a: v.string() }), 'multipart/form-data': v.object({ job: v.string() }) },
        responses: { 201: { description: 'made', schema: v.object({ id: v.string() }) } },
        handler: () => new Response(''),
      }),
    ];
    const d = buildOpenApi(fns as never, '1.0.0') as { paths: Record<string, Record<string, Op & { requestBody?: { content: object } }>> };
    const result = await validate(structuredClone(d) as never);
    assert.ok(result.valid, JSON.stringify(result).slice(0, 2000));
    const file = d.paths['/things/{id}/files/{path}'];
    assert.deepEqual(Object.keys(file ?? {}).sort(), ['delete', 'get']);
    assert.deepEqual(file?.get?.parameters?.map((p) => `${p.in}:${p.name}`), ['path:id', 'path:path', 'query:after', 'header:Prefer']);
    assert.ok(file?.get?.responses['304'] && !('content' in file.get.responses['304']));
    assert.ok(file?.get?.responses['404']);
    assert.deepEqual(Object.keys(d.paths['/things']?.post?.requestBody?.content ?? {}), ['application/json', 'multipart/form-data']);
  });

  it('schema/openapi.json is up to date (run `npm run gen:openapi` after changing a function)', () => {
    assert.equal(readFileSync(OPENAPI_FILE, 'utf8'), openApiText());
  });

  it('GET /openapi.json serves it behind the key', async () => {
    const ctx = baseContext();
    const denied = await openapiFn.fetch(new Request('http://x/openapi.json'), ctx);
    assert.equal(denied.status, 401);
    const res = await openapiFn.fetch(new Request('http://x/openapi.json', authed()), { ...ctx, version: VERSION });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(await res.text(), readFileSync(OPENAPI_FILE, 'utf8'));
    assert.deepEqual(JSON.parse(openApiText()), buildOpenApi(functions, VERSION, NAMED_SCHEMAS));
  });
});
