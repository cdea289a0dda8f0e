import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { functions } from '../../functions/index.ts';
import type { Context } from '../../lib/context.ts';
import { defineFunction } from '../../lib/http/function.ts';
import { json } from '../../lib/http/respond.ts';
import { createRouter, routeTable } from '../../lib/http/router.ts';
import { authed, baseContext, testConfig } from '../support/context.ts';

/** The OpenAPI fields every function declares (not what these tests are about). */
const doc = { summary: 'test function', responses: { 200: { description: 'any', schema: v.unknown() } } };

/** The route table of VIDAX: a route added, removed or re-methoded shows up here as a diff. */
const ROUTES = [
  'GET /comfyui/health',
  'POST /comfyui/start',
  'GET /health',
  'GET /jobs',
  'POST /jobs',
  'GET /jobs/:id',
  'GET /jobs/:id/artifacts',
  'GET /jobs/:id/artifacts/:path+',
  'HEAD /jobs/:id/artifacts/:path+',
  'POST /jobs/:id/cancel',
  'GET /jobs/:id/events',
  'GET /jobs/:id/final.mp4',
  'HEAD /jobs/:id/final.mp4',
  'GET /jobs/:id/logs',
  'GET /jobs/:id/manifest',
  'POST /jobs/:id/start',
  'GET /openapi.json',
];

const listThings = defineFunction({
  ...doc,
  method: 'GET',
  path: '/things',
  handler: () => json({ handler: 'list' }),
});
const createThing = defineFunction({
  ...doc,
  method: 'POST',
  path: '/things',
  body: v.strictObject({ name: v.string() }),
  handler: ({ body }) => json({ handler: 'create', name: body.name }, 201),
});
const getThing = defineFunction({
  ...doc,
  method: 'GET',
  path: '/things/:id',
  handler: ({ params }) => json({ handler: 'get', id: params.id }),
});

const ctxWith = (requestLog: boolean) => baseContext(testConfig({ requestLog }));

describe('router', () => {
  it('holds the sorted METHOD /path table, as registered on itty-router', () => {
    assert.deepEqual(routeTable(functions), ROUTES);
    // Registration reads only `config.requestLog` and `log`: a slice stands in for the full context.
    const router = createRouter(ctxWith(false) as unknown as Context, functions);
    const registered = router.routes.filter(([method]) => method !== 'ALL').map(([method, , , path]) => `${method} ${path}`);
    assert.deepEqual(routeTable(functions).slice().sort(), registered.sort());
  });

  it('a GET and a POST on one path both reach their handlers; another method is 405 with both in Allow', async () => {
    const ctx = ctxWith(false);
    const router = createRouter(ctx, [listThings, createThing, getThing]);
    const get = await router.fetch(new Request('http://x/things', authed()), ctx);
    assert.equal(get.status, 200);
    assert.deepEqual(await get.json(), { handler: 'list' });
    const post = await router.fetch(
      new Request('http://x/things', authed({ method: 'POST', body: '{"name":"a"}', headers: { 'content-type': 'application/json' } })),
      ctx,
    );
    assert.equal(post.status, 201);
    assert.deepEqual(await post.json(), { handler: 'create', name: 'a' });
    const one = await router.fetch(new Request('http://x/things/a%20b', authed()), ctx);
    assert.deepEqual(await one.json(), { handler: 'get', id: 'a b' });
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const res = await router.fetch(new Request('http://x/things', authed({ method })), ctx);
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'GET, POST');
      assert.deepEqual(await res.json(), {
        ok: false,
        error: { code: 'method_not_allowed', message: 'method not allowed; use GET, POST' },
      });
    }
    const single = await router.fetch(new Request('http://x/things/x', authed({ method: 'POST' })), ctx);
    assert.equal(single.headers.get('allow'), 'GET');
  });

  it('each function is still callable alone, answering 405 for a method it does not have', async () => {
    const ctx = ctxWith(false);
    const res = await listThings.fetch(new Request('http://x/things', authed({ method: 'POST' })), ctx);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
    assert.deepEqual(await (await listThings.fetch(new Request('http://x/things', authed()), ctx)).json(), { handler: 'list' });
  });

  it('checks the key before routing: 401 on known and unknown paths, then 404 / 405', async () => {
    const ctx = ctxWith(false);
    const router = createRouter(ctx, [listThings, createThing]);
    for (const [method, path] of [['GET', '/things'], ['DELETE', '/things'], ['GET', '/nope']] as const) {
      const res = await router.fetch(new Request(`http://x${path}`, { method }), ctx);
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal((await res.json()).error.code, 'unauthorized');
      assert.ok(res.headers.get('x-request-id'));
    }
    const nf = await router.fetch(new Request('http://x/nope', authed()), ctx);
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), { ok: false, error: { code: 'not_found', message: 'no such route' } });
    // A path the function's own matcher refuses (bad percent-encoding) is 404, whatever the method.
    for (const method of ['GET', 'DELETE']) {
      const bad = await router.fetch(new Request('http://x/things/%E0%A4%A', authed({ method })), ctx);
      assert.equal(bad.status, 404, method);
    }
  });

  it('logs one line per request, answered or refused, with the request id it echoes', async () => {
    const ctx = ctxWith(true);
    const router = createRouter(ctx, [listThings, getThing]);
    const ok = await router.fetch(new Request('http://x/things?api_key=leak', authed({ headers: { 'x-request-id': 'trace-1' } })), ctx);
    const denied = await router.fetch(new Request('http://x/things/1', { method: 'DELETE' }), ctx);
    assert.equal(ok.headers.get('x-request-id'), 'trace-1');
    const lines = ctx.log.lines.filter((l) => l.msg === 'request');
    assert.equal(lines.length, 2);
    const [first, second] = lines as [Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual(Object.keys(first), ['level', 'msg', 'request_id', 'method', 'path', 'status', 'ms']);
    assert.deepEqual({ ...first, ms: 0 }, { level: 'info', msg: 'request', request_id: 'trace-1', method: 'GET', path: '/things', status: 200, ms: 0 });
    assert.equal(typeof first.ms, 'number');
    assert.deepEqual([second.method, second.path, second.status], ['DELETE', '/things/1', 401]);
    assert.equal(second.request_id, denied.headers.get('x-request-id'));
  });

  it('refuses two functions for one method and path', () => {
    const again = defineFunction({ ...doc, method: 'GET', path: '/things', handler: () => json({}) });
    assert.throws(() => createRouter(ctxWith(false), [listThings, again]), /two functions for GET \/things/);
  });
});
