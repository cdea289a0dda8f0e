import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import request from 'supertest';
import { startServer } from '../../adapters/node.ts';
import comfyuiHealth from '../../functions/comfyui-health.get.ts';
import comfyuiStart from '../../functions/comfyui-start.post.ts';
import { createComfyUIClient } from '../../lib/comfyui/client.ts';
import { createProcessManager } from '../../lib/comfyui/process-manager.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { fixture, freePort, isAlive, until } from '../support/comfyui.ts';
import { authed, baseContext, TEST_KEY, tempDir, testConfig } from '../support/context.ts';
import { simulatorCommand } from '../support/simulator.ts';
import { spawnVidax } from '../support/spawn.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** The slice the two functions need, over a real process manager on a free port. */
async function context(comfyui: (port: number) => Record<string, unknown>) {
  const port = await freePort();
  const config = testConfig({
    comfyui: { url: `http://127.0.0.1:${port}`, startTimeoutMs: 10_000, healthTimeoutMs: 1000, ...comfyui(port) },
  });
  const client = createComfyUIClient({ url: config.comfyui.url, requestTimeoutMs: 2000 });
  const processManager = createProcessManager({ config: config.comfyui, client, log: createMemoryLogger(), graceMs: 500 });
  cleanups.push(async () => {
    await processManager.stop();
    await client.close();
  });
  return { ctx: { ...baseContext(config), processManager }, port };
}

type Ctx = Awaited<ReturnType<typeof context>>['ctx'];
const call = (fn: typeof comfyuiHealth | typeof comfyuiStart, ctx: Ctx, init: RequestInit = {}) =>
  fn.fetch(new Request(`http://vidax.local${fn.path}`, authed({ method: fn.method, ...init })), ctx);

describe('GET /comfyui/health and POST /comfyui/start (handlers)', () => {
  it('reports a down ComfyUI with 200 ok:false, starts it with 202, then reports it ready', async () => {
    const { ctx, port } = await context((p) => ({ command: fixture('healthy', '--port', String(p)) }));
    const down = await call(comfyuiHealth, ctx);
    assert.equal(down.status, 200);
    const body = await down.json();
    assert.deepEqual({ ok: body.ok, status: body.status, managed: body.managed, pid: body.pid, url: body.url }, {
      ok: false, status: 'stopped', managed: false, pid: null, url: `http://127.0.0.1:${port}`,
    });
    assert.equal(typeof body.error, 'string');

    const started = await call(comfyuiStart, ctx);
    assert.equal(started.status, 202);
    const s = await started.json();
    assert.deepEqual({ ok: s.ok, status: s.status, url: s.url, managed: s.managed }, {
      ok: true, status: 'ready', url: `http://127.0.0.1:${port}`, managed: true,
    });
    assert.ok(isAlive(s.pid));

    const up = await (await call(comfyuiHealth, ctx)).json();
    assert.deepEqual({ ok: up.ok, status: up.status, managed: up.managed, pid: up.pid, version: up.version, queue: up.queue }, {
      ok: true, status: 'ready', managed: true, pid: s.pid, version: '0.3.64', queue: { running: 0, pending: 0 },
    });
    const again = await call(comfyuiStart, ctx);
    assert.equal(again.status, 202);
    assert.equal((await again.json()).pid, s.pid, 'an already healthy ComfyUI is not started twice');
  });

  it('answers 500 COMFYUI_START_FAILED with details when ComfyUI exits at start', async () => {
    const { ctx } = await context(() => ({ command: fixture('exit-at-once', '7') }));
    const res = await call(comfyuiStart, ctx);
    assert.equal(res.status, 500);
    const body = await res.json();
    assert.equal(body.ok, false);
    assert.equal(body.error.code, 'COMFYUI_START_FAILED');
    assert.equal(body.error.details.exit_code, 7);
    assert.ok(body.error.details.last_lines.includes('ModuleNotFoundError: No module named torch'));
    assert.doesNotMatch(JSON.stringify(body), /at .*\.ts:\d+/, 'no stack trace');
  });

  it('answers 500 COMFYUI_TIMEOUT when ComfyUI never becomes ready, leaving no process', async () => {
    const { ctx } = await context(() => ({ command: fixture('never-listen'), startTimeoutMs: 1000 }));
    const res = await call(comfyuiStart, ctx);
    assert.equal(res.status, 500);
    const body = await res.json();
    assert.equal(body.error.code, 'COMFYUI_TIMEOUT');
    assert.ok(!isAlive(body.error.details.pid));
    const health = await (await call(comfyuiHealth, ctx)).json();
    assert.equal(health.ok, false);
  });

  it('needs the key and the right method', async () => {
    const { ctx } = await context(() => ({}));
    const res = await comfyuiStart.fetch(new Request('http://vidax.local/comfyui/start', { method: 'POST' }), ctx);
    assert.equal(res.status, 401);
    const wrong = await call(comfyuiHealth, ctx, { method: 'POST' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET');
  });
});

describe('ComfyUI endpoints through the Node adapter', () => {
  it('starts the simulator on POST /comfyui/start and stops it when the server closes (comfyui.stopOnExit)', async () => {
    const port = await freePort();
    const config = testConfig({ comfyui: { url: `http://127.0.0.1:${port}`, command: simulatorCommand(port), startTimeoutMs: 15_000, stopOnExit: true } });
    const running = await startServer({ config, log: createMemoryLogger() });
    let closed = false;
    cleanups.push(async () => { if (!closed) await running.close(); });
    const start = await request(running.server).post('/comfyui/start').set('x-api-key', TEST_KEY);
    assert.equal(start.status, 202);
    assert.deepEqual({ ok: start.body.ok, status: start.body.status, url: start.body.url }, { ok: true, status: 'ready', url: `http://127.0.0.1:${port}` });
    const health = await request(running.server).get('/comfyui/health').set('x-api-key', TEST_KEY);
    assert.equal(health.status, 200);
    assert.deepEqual({ ok: health.body.ok, status: health.body.status, managed: health.body.managed }, { ok: true, status: 'ready', managed: true });
    assert.equal(typeof health.body.version, 'string');
    const pid = health.body.pid as number;
    assert.ok(isAlive(pid));
    await running.close();
    closed = true;
    assert.ok(!isAlive(pid), 'the managed ComfyUI stops with VIDAX');
  });
});

describe('ComfyUI across VIDAX processes', () => {
  it('with stopOnExit stops its ComfyUI on SIGTERM; after a kill -9 the next VIDAX re-adopts the survivor as managed', async () => {
    const port = await freePort();
    const dir = tempDir();
    const configFile = join(dir, 'vidax.json');
    writeFileSync(configFile, JSON.stringify({
      runsDir: join(dir, 'runs'),
      requestLog: false,
      comfyui: { url: `http://127.0.0.1:${port}`, command: fixture('healthy', '--port', String(port)), startTimeoutMs: 15_000, stopOnExit: true },
    }));
    const env = { VIDAX_API_KEY: TEST_KEY, VIDAX_PORT: '0', VIDAX_CONFIG: configFile };
    const headers = { 'x-api-key': TEST_KEY };
    const startComfyUI = async (url: string) => {
      const res = await fetch(`${url}/comfyui/start`, { method: 'POST', headers });
      assert.equal(res.status, 202);
      return (await res.json()) as { pid: number; managed: boolean };
    };

    const a = spawnVidax(env, dir);
    cleanups.push(async () => { a.child.kill('SIGKILL'); });
    const [, urlA] = await a.waitFor(/listening on (http:\/\/\S+)/);
    const first = await startComfyUI(urlA!);
    assert.equal(first.managed, true);
    a.child.kill('SIGTERM');
    assert.equal((await a.exit()).code, 0);
    await until('ComfyUI to stop with VIDAX', () => !isAlive(first.pid), 5000);

    const b = spawnVidax(env, dir);
    cleanups.push(async () => { b.child.kill('SIGKILL'); });
    const [, urlB] = await b.waitFor(/listening on (http:\/\/\S+)/);
    const second = await startComfyUI(urlB!);
    cleanups.push(async () => { if (isAlive(second.pid)) process.kill(second.pid, 'SIGKILL'); });
    b.child.kill('SIGKILL');
    await b.exit();
    assert.ok(isAlive(second.pid), 'a kill -9 of VIDAX leaves its ComfyUI running');

    const c = spawnVidax(env, dir);
    cleanups.push(async () => { c.child.kill('SIGKILL'); });
    const [, urlC] = await c.waitFor(/listening on (http:\/\/\S+)/);
    const adopted = await startComfyUI(urlC!);
    assert.deepEqual({ managed: adopted.managed, pid: adopted.pid }, { managed: true, pid: second.pid });
    const health = (await (await fetch(`${urlC}/comfyui/health`, { headers })).json()) as { status: string; pid: number };
    assert.deepEqual({ status: health.status, pid: health.pid }, { status: 'ready', pid: second.pid });
    c.child.kill('SIGTERM');
    await c.exit();
    await until('the re-adopted ComfyUI to stop with VIDAX (stopOnExit)', () => !isAlive(second.pid), 5000);
  });
});
