// The context's lifecycle (issue 11): createContext takes the runs dir's lock, start() does the
// start-up work once (the recovery of runs a previous VIDAX left running), dispose() releases
// every service and then the lock, once, leaving nothing that keeps the event loop alive.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createContext, type ContextLifecycle } from '../lib/context.ts';
import { createMemoryLogger } from '../lib/logger.ts';
import type { Manifest } from '../lib/runs/manifest.ts';
import { LOCK_NAME, RunsDirInUse } from '../lib/runs/lock.ts';
import { createRunStore } from '../lib/runs/store.ts';
import { testConfig } from './support/context.ts';
import { fixtureWorkflow } from './support/jobs.ts';

const JOB = { workflow: fixtureWorkflow('workflow-single'), phases: { encode: { enabled: false } } };

/** A ComfyUI that only knows one prompt, `p-kept`, running in its queue; it counts the requests. */
async function fakeComfyUI(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests += 1;
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/queue') reply(200, { queue_running: [[1, 'p-kept', {}, {}, []]], queue_pending: [] });
    else if (req.url?.startsWith('/history/')) reply(200, {});
    else if (req.url === '/system_stats') reply(200, { system: { comfyui_version: '0.3.64' }, devices: [] });
    else reply(404, {});
  });
  server.on('upgrade', (_req, socket) => socket.destroy()); // no WebSocket: the event stream retries
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Runs as a previous VIDAX left them: `running`, one with its prompt in ComfyUI, one cut before the submit. */
async function leftRunning(runsDir: string): Promise<{ kept: string; unsent: string }> {
  const store = createRunStore({ runsDir });
  const make = async (promptId: string | null) => {
    const { workflow: _wf, ...summary } = JOB;
    const run = await store.create(summary, new TextEncoder().encode(`${JSON.stringify(JOB)}\n`));
    await store.update(run.run_id, (m) => {
      m.run_status = 'running';
      m.phases.prepare = { ...m.phases.prepare, status: 'completed' };
      m.phases.comfyui = { ...m.phases.comfyui, status: 'running', started_at: new Date().toISOString(), ...(promptId ? { prompt_id: promptId } : {}) };
    });
    return run.run_id;
  };
  const ids = { kept: await make('p-kept'), unsent: await make(null) };
  await store.close();
  return ids;
}

const manifestOf = (runsDir: string, id: string) => JSON.parse(readFileSync(join(runsDir, id, 'manifest.json'), 'utf8')) as Manifest;
const eventTypes = (runsDir: string, id: string) =>
  readFileSync(join(runsDir, id, 'logs', 'events.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Handle types keeping the loop alive, counted (in-flight fs requests left out: they end by
 * themselves). A closed server or exited child leaves the list a tick after its callback.
 */
async function activeHandles(): Promise<Map<string, number>> {
  await new Promise((r) => setTimeout(r, 100));
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) if (!type.startsWith('FSReq')) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

describe('context lifecycle: createContext, start(), dispose()', () => {
  const open: ContextLifecycle[] = [];
  after(() => Promise.all(open.map((c) => c.dispose())));

  it('start() recovers once: a run left running is re-attached, one cut before its submit fails; dispose() leaves nothing running', async () => {
    const baseline = await activeHandles();
    const comfy = await fakeComfyUI();
    const config = testConfig({ comfyui: { url: comfy.url, autoStart: false }, jobParserOffThreadBytes: 1024 });
    const { runsDir } = config;
    const { kept, unsent } = await leftRunning(runsDir);

    const log = createMemoryLogger();
    const lc = createContext({ config, log, version: 'test' });
    open.push(lc);
    // The lock is taken at creation: a second context on this runs dir is refused.
    assert.ok(existsSync(join(runsDir, LOCK_NAME)));
    assert.throws(() => createContext({ config, log, version: 'test' }), RunsDirInUse);
    // Nothing is recovered before start().
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(manifestOf(runsDir, unsent).run_status, 'running');
    assert.deepEqual(eventTypes(runsDir, kept), ['run.created']);

    const first = lc.start();
    assert.equal(lc.start(), first, 'start() twice is one start');
    await first;
    await until('the unsent run failed', () => manifestOf(runsDir, unsent).run_status === 'failed');
    assert.equal(manifestOf(runsDir, unsent).error?.code, 'COMFYUI_PROMPT_LOST');
    await until('the kept run re-attached', () => eventTypes(runsDir, kept).includes('run.reattached'));
    assert.equal(manifestOf(runsDir, kept).run_status, 'running');

    // A run left running now is not recovered by a later start(): the start-up work ran once.
    const { workflow: _wf, ...summary } = JOB;
    const late = await lc.ctx.runs.create(summary, new TextEncoder().encode(JSON.stringify(JOB)));
    await lc.ctx.runs.update(late.run_id, (m) => {
      m.run_status = 'running';
      m.phases.comfyui = { ...m.phases.comfyui, status: 'running' };
    });
    await lc.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(manifestOf(runsDir, late.run_id).run_status, 'running', 'no second recovery');
    assert.equal(eventTypes(runsDir, unsent).filter((t) => t === 'run.failed').length, 1);

    // Busy services: the parser thread (a body over jobParserOffThreadBytes), the re-attached run polling ComfyUI.
    const big = { ...JOB, metadata: { pad: 'x'.repeat(4096) } };
    await lc.ctx.jobParser.parse(Buffer.from(JSON.stringify(big)));
    await lc.ctx.media.tools(); // detection (ffmpeg -version) has ended
    await until('the re-attached run polls ComfyUI', () => comfy.requests() >= 3);

    const disposed = lc.dispose();
    assert.equal(lc.dispose(), disposed, 'dispose() twice is one dispose');
    await disposed;
    await lc.dispose(); // and again later: nothing to do
    assert.equal(existsSync(join(runsDir, LOCK_NAME)), false, 'the lock is released');
    // The re-attached run stays running for the next start; no timer polls ComfyUI any more.
    assert.equal(manifestOf(runsDir, kept).run_status, 'running');
    const seen = comfy.requests();
    await new Promise((r) => setTimeout(r, 1500)); // longer than the runner's 1 s poll
    assert.equal(comfy.requests(), seen, 'no request to ComfyUI after dispose()');
    await comfy.close();
    // Nothing the context made keeps the event loop alive.
    const left = [...(await activeHandles())].filter(([type, n]) => n > (baseline.get(type) ?? 0));
    assert.deepEqual(left, [], `handles left: ${JSON.stringify(left)}`);

    // The runs dir is free for the next VIDAX, whose start() re-attaches the run again.
    const comfy2 = await fakeComfyUI();
    const next = createContext({ config: { ...config, comfyui: { ...config.comfyui, url: comfy2.url } }, log: createMemoryLogger(), version: 'test' });
    open.push(next);
    await next.start();
    await until('re-attached by the next context', () => eventTypes(runsDir, kept).filter((t) => t === 'run.reattached').length === 2);
    await next.dispose();
    await comfy2.close();
  });

  it('dispose() of a context never started releases the lock and leaves no handle', async () => {
    const baseline = await activeHandles();
    const config = testConfig();
    const lc = createContext({ config, log: createMemoryLogger(), version: 'test' });
    open.push(lc);
    await lc.ctx.media.tools();
    await lc.dispose();
    assert.equal(existsSync(join(config.runsDir, LOCK_NAME)), false);
    const left = [...(await activeHandles())].filter(([type, n]) => n > (baseline.get(type) ?? 0));
    assert.deepEqual(left, []);
  });

  it('the adapter leaves the lock and the recovery to the lifecycle', () => {
    const adapter = readFileSync(join(import.meta.dirname, '..', 'adapters', 'node.ts'), 'utf8');
    assert.doesNotMatch(adapter, /lockRunsDir|\.recover\(/);
    assert.match(adapter, /context\.start\(\)/);
    assert.match(adapter, /context\.dispose\(\)/);
  });
});
