import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { type RunningServer, startServer } from '../../adapters/node.ts';
import { functions } from '../../functions/index.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { TEST_KEY, tempDir, testConfig } from '../support/context.ts';
import { spawnVidax } from '../support/spawn.ts';

const samplePath = (path: string) => path.replace(/:[a-z_]+/gi, 'r_0000000000000_x');

describe('Node adapter', () => {
  let running: RunningServer;
  const log = createMemoryLogger();
  before(async () => {
    running = await startServer({ config: testConfig({ maxBodyBytes: 1024, requestLog: true }), log });
  });
  after(() => running.close());

  it('requires X-API-Key on every route, in any header case, comparing the whole key', async () => {
    const routes = [...functions.map((f) => [f.method, samplePath(f.path)] as const), ['GET', '/nope'] as const];
    const wrongKeys = [undefined, '', 'x', `${TEST_KEY.slice(0, -1)}X`, `${TEST_KEY}${TEST_KEY}`, TEST_KEY.toUpperCase()];
    for (const [method, path] of routes) {
      for (const key of wrongKeys) {
        let req = request(running.server)[method === 'GET' ? 'get' : 'post'](path);
        if (key !== undefined) req = req.set('X-API-Key', key);
        const res = await req;
        assert.equal(res.status, 401, `${method} ${path} with key ${JSON.stringify(key)}`);
        assert.equal(res.body.error.code, 'unauthorized');
      }
      const inQuery = await request(running.server).get(`${path}?api_key=${TEST_KEY}&X-API-Key=${TEST_KEY}`);
      assert.equal(inQuery.status, 401, `${path}: a key in the query string is refused`);
    }
    for (const name of ['x-api-key', 'X-API-KEY', 'X-Api-Key']) {
      const res = await request(running.server).get('/health').set(name, TEST_KEY);
      assert.equal(res.status, 200, name);
      assert.equal(res.body.ok, true);
    }
  });

  it('404s unknown paths (after auth) and 405s wrong methods with Allow', async () => {
    const nf = await request(running.server).get('/jobs-nope').set('x-api-key', TEST_KEY);
    assert.equal(nf.status, 404);
    assert.deepEqual(nf.body, { ok: false, error: { code: 'not_found', message: 'no such route' } });
    assert.match(String(nf.headers['content-type']), /application\/json/);
    const na = await request(running.server).delete('/health').set('x-api-key', TEST_KEY);
    assert.equal(na.status, 405);
    assert.equal(na.headers.allow, 'GET');
    assert.equal(na.body.error.code, 'method_not_allowed');
  });

  it('413s a body over maxBodyBytes, on a route that reads one and on one that does not', async () => {
    for (const path of ['/jobs', '/comfyui/start', '/jobs/r_0000000000000_x/start']) {
      const res = await request(running.server)
        .post(path)
        .set('x-api-key', TEST_KEY)
        .set('content-type', 'application/json')
        .send(JSON.stringify({ pad: 'x'.repeat(4096) }));
      assert.equal(res.status, 413, path);
      assert.equal(res.body.error.code, 'payload_too_large');
    }
  });

  it('answers a request Node cannot parse with the JSON error shape', async () => {
    const { port } = running.server.address() as { port: number };
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => sock.write('GET /health HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n'));
      let text = '';
      sock.on('data', (d) => { text += d; });
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.deepEqual(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)), { ok: false, error: { code: 'bad_request', message: 'malformed HTTP request' } });
  });

  it('echoes a sane X-Request-Id, mints one otherwise, and logs one line per request without the key', async () => {
    const echoed = await request(running.server).get('/health').set('x-api-key', TEST_KEY).set('x-request-id', 'trace-42');
    assert.equal(echoed.headers['x-request-id'], 'trace-42');
    const minted = await request(running.server).get('/nope');
    assert.match(String(minted.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const line = log.lines.find((l) => l.request_id === 'trace-42');
    assert.deepEqual(
      { method: line?.method, path: line?.path, status: line?.status },
      { method: 'GET', path: '/health', status: 200 },
    );
    assert.ok(!JSON.stringify(log.lines).includes(TEST_KEY), 'the key never reaches the log');
  });
});

describe('Node adapter process', () => {
  it('refuses to start without a key, exiting non-zero with how to set one', async () => {
    const p = spawnVidax({}, tempDir());
    const { code } = await p.exit();
    assert.equal(code, 2);
    assert.match(p.stderr(), /VIDAX_API_KEY/);
  });

  it('refuses a bad config naming each field', async () => {
    const p = spawnVidax({ VIDAX_API_KEY: TEST_KEY, VIDAX_PORT: 'http' }, tempDir());
    assert.equal((await p.exit()).code, 2);
    assert.match(p.stderr(), /port/);
  });

  it('serves, then on SIGTERM drains and exits 0', async () => {
    const p = spawnVidax({ VIDAX_API_KEY: TEST_KEY, VIDAX_PORT: '0', VIDAX_RUNS_DIR: tempDir() }, tempDir());
    const [, url] = await p.waitFor(/listening on (http:\/\/\S+)/);
    const res = await fetch(`${url}/health`, { headers: { 'x-api-key': TEST_KEY } });
    assert.equal(res.status, 200);
    p.child.kill('SIGTERM');
    const { code } = await p.exit();
    assert.equal(code, 0);
    assert.match(p.stdout(), /"msg":"shutting down","signal":"SIGTERM"/);
  });
});
