import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import health from '../../functions/health.get.ts';
import { VidaxError } from '../../lib/errors.ts';
import { defineFunction } from '../../lib/http/function.ts';
import { json } from '../../lib/http/respond.ts';
import { authed, baseContext, TEST_KEY, testConfig } from '../support/context.ts';

/** The OpenAPI fields every function declares (not what these tests are about). */
const doc = { summary: 'test function', responses: { 200: { description: 'any', schema: v.unknown() } } };

const echo = defineFunction({
  ...doc,
  method: 'POST',
  path: '/echo/:name',
  body: v.strictObject({ n: v.number() }),
  handler: ({ params, body }) => json({ name: params.name, n: body.n }),
});
const boom = defineFunction({
  ...doc,
  method: 'GET',
  path: '/boom',
  handler: () => {
    throw new Error('secret /internal/path exploded');
  },
});

describe('GET /health handler', () => {
  it('answers ok with the key', async () => {
    const res = await health.fetch(new Request('http://x/health', authed()), baseContext());
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.ok, true);
    assert.equal(body.version, 'test');
    assert.ok(res.headers.get('x-request-id'));
  });

  it('401s without the key, with a wrong key, and ignores a key in the query', async () => {
    const ctx = baseContext();
    for (const req of [
      new Request('http://x/health'),
      new Request('http://x/health', { headers: { 'x-api-key': `${TEST_KEY}x` } }),
      new Request(`http://x/health?api_key=${TEST_KEY}&x-api-key=${TEST_KEY}`),
    ]) {
      const res = await health.fetch(req, ctx);
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), {
        ok: false,
        error: { code: 'unauthorized', message: 'missing or invalid X-API-Key header' },
      });
    }
  });

  it('405s another method with Allow', async () => {
    const res = await health.fetch(new Request('http://x/health', authed({ method: 'DELETE' })), baseContext());
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
    assert.equal((await res.json()).error.code, 'method_not_allowed');
  });
});

describe('defineFunction', () => {
  const ctx = baseContext(testConfig({ maxBodyBytes: 64 }));
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    echo.fetch(new Request('http://x/echo/a%20b', authed({ method: 'POST', body, headers })), ctx);

  it('decodes path params and validates the body', async () => {
    const res = await post('{"n":1}');
    assert.deepEqual(await res.json(), { name: 'a b', n: 1 });
    const bad = await post('{"n":"1","x":2}');
    assert.equal(bad.status, 400);
    const err = (await bad.json()).error;
    assert.equal(err.code, 'validation_failed');
    assert.deepEqual(err.details.map((d: { path: string }) => d.path).sort(), ['n', 'x']);
  });

  it('maps malformed JSON to invalid_json and an empty body too', async () => {
    for (const body of ['{"n":', '']) {
      const res = await post(body);
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.code, 'invalid_json');
    }
  });

  it('refuses bodies over the limit, declared or streamed', async () => {
    const big = JSON.stringify({ n: 1, pad: 'x'.repeat(100) });
    assert.equal((await post(big)).status, 413);
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode('          '));
        c.close();
      },
    });
    const res = await echo.fetch(
      new Request('http://x/echo/a', { ...authed({ method: 'POST', body: chunks }), duplex: 'half' } as RequestInit),
      ctx,
    );
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, 'payload_too_large');
  });

  it('hides internal errors: 500 internal_error, no message or path, full error logged', async () => {
    const c = baseContext();
    const res = await boom.fetch(new Request('http://x/boom', authed({ headers: { 'x-request-id': 'abc-123' } })), c);
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.doesNotMatch(text, /secret|internal\/path|at /);
    assert.equal(JSON.parse(text).error.code, 'internal_error');
    assert.equal(res.headers.get('x-request-id'), 'abc-123');
    assert.match(String(c.log.lines[0]?.stack), /exploded/);
    assert.equal(c.log.lines[0]?.request_id, 'abc-123');
  });

  it('maps a thrown VidaxError with details and headers', async () => {
    const fn = defineFunction({
  ...doc,
      method: 'GET',
      path: '/t',
      handler: () => {
        throw new VidaxError('teapot', 418, 'short and stout', { details: { a: 1 }, headers: { 'x-t': '1' } });
      },
    });
    const res = await fn.fetch(new Request('http://x/t', authed()), baseContext());
    assert.equal(res.status, 418);
    assert.equal(res.headers.get('x-t'), '1');
    assert.deepEqual(await res.json(), { ok: false, error: { code: 'teapot', message: 'short and stout', details: { a: 1 } } });
  });

  it('replaces an insane incoming request id', async () => {
    const res = await health.fetch(new Request('http://x/health', authed({ headers: { 'x-request-id': 'bad id\u0001' } })), baseContext());
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });
});
