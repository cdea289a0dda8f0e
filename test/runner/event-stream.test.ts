// GET /jobs/:id/events through the real server with the real `eventsource` client: a run watched
// to the end, a reconnect mid-run, a VIDAX restart mid-run, and 200 watchers of one run.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import { type RunningServer, startServer } from '../../adapters/node.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { WEBHOOK_EVENT_TYPES } from '../../lib/webhooks/events.ts';
import { freePort } from '../support/comfyui.ts';
import { TEST_KEY, tempDir, testConfig } from '../support/context.ts';
import { type RunningSimulator, startSimulator } from '../support/simulator.ts';

const slow = (steps: number, prefix = 'sse') => ({
  '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps, step_ms: 20 } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: prefix } },
});
const headers = { 'x-api-key': TEST_KEY, 'content-type': 'application/json' };

interface Watch {
  es: EventSource;
  events: { id: number; type: string; data: string }[];
  opens: number;
  /** Resolves after run.completed / run.failed (the client then closes itself). */
  done: Promise<void>;
}

function watch(url: string, onEvent?: (w: Watch) => void): Watch {
  const es = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, 'x-api-key': TEST_KEY } }),
  });
  let finish = () => {};
  const w: Watch = { es, events: [], opens: 0, done: new Promise<void>((r) => (finish = r)) };
  es.addEventListener('open', () => w.opens++);
  const on = (e: MessageEvent) => {
    w.events.push({ id: Number(e.lastEventId), type: e.type, data: e.data });
    onEvent?.(w);
    if (e.type === 'run.completed' || e.type === 'run.failed') {
      es.close();
      finish();
    }
  };
  // EventSource dispatches by event name: listen to every type the run can log.
  for (const t of EVENT_TYPES) es.addEventListener(t, on);
  return w;
}

// Every type a run can log (the webhook list is that list): a hand-kept copy here missed
// `run.waiting_for_comfyui`, logged when ComfyUI's health answer takes over 100 ms (a loaded machine).
const EVENT_TYPES = WEBHOOK_EVENT_TYPES;

/** The watch saw every line of events.jsonl exactly once, in order, as `data`. */
function assertExactlyOnce(w: Watch, workdir: string) {
  const lines = readFileSync(join(workdir, 'logs', 'events.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(w.events.map((e) => e.id), lines.map((_, i) => i + 1), 'every seq once, in order');
  assert.deepEqual(w.events.map((e) => e.data), lines);
  for (const e of w.events) assert.equal(e.type, JSON.parse(e.data).type);
}

describe('GET /jobs/:id/events with a real EventSource client', () => {
  let sim: RunningSimulator;
  let runsDir: string;
  let port: number;
  let vx: RunningServer;
  const boot = () =>
    startServer({
      config: testConfig({ runsDir, port, comfyui: { url: sim.url, autoStart: false, requestTimeoutMs: 5000 } }),
      log: createMemoryLogger(),
    });
  const createStarted = async (steps: number) => {
    const res = await fetch(`${vx.url}/jobs`, { method: 'POST', headers, body: JSON.stringify({ workflow: slow(steps) }) });
    const { run_id: id, workdir } = (await res.json()) as { run_id: string; workdir: string };
    assert.equal((await fetch(`${vx.url}/jobs/${id}/start`, { method: 'POST', headers })).status, 202);
    return { id, workdir };
  };

  before(async () => {
    sim = await startSimulator();
    runsDir = join(tempDir(), 'runs');
    port = await freePort();
    vx = await boot();
  });
  after(async () => {
    await vx?.close();
    await sim?.stop();
  });

  it('watches a run to its end: every event once, data = the events.jsonl line; a late reconnect gets 204', async () => {
    const { id, workdir } = await createStarted(10);
    const w = watch(`${vx.url}/jobs/${id}/events`);
    await w.done;
    assert.equal(w.events.at(-1)?.type, 'run.completed');
    assertExactlyOnce(w, workdir);
    const late = await fetch(`${vx.url}/jobs/${id}/events`, { headers: { ...headers, 'last-event-id': String(w.events.at(-1)?.id) } });
    assert.equal(late.status, 204);
  });

  it('a reconnect in the middle resumes from Last-Event-ID with no gap and no duplicate', async () => {
    const { id, workdir } = await createStarted(60);
    let cut = false;
    const w = watch(`${vx.url}/jobs/${id}/events`, (w) => {
      if (!cut && w.events.some((e) => e.type === 'comfyui.progress')) {
        cut = true;
        vx.server.closeAllConnections(); // the network drops every connection
      }
    });
    await w.done;
    assert.ok(cut);
    assert.ok(w.opens >= 2, `reconnected (${w.opens} opens)`);
    assertExactlyOnce(w, workdir);
  });

  it('resumes exactly once across a VIDAX restart (the run is re-attached by the new process)', { timeout: 60_000 }, async () => {
    const { id, workdir } = await createStarted(150);
    let restarting: Promise<void> | null = null;
    const w = watch(`${vx.url}/jobs/${id}/events`, (w) => {
      if (!restarting && w.events.filter((e) => e.type === 'comfyui.progress').length >= 2) {
        restarting = (async () => {
          await vx.close(); // graceful: the run stays running for the next start to re-attach
          vx = await boot();
        })();
      }
    });
    await w.done;
    assert.ok(restarting, 'restarted mid-run');
    await restarting;
    assert.ok(w.events.some((e) => e.type === 'run.reattached'), `the new process re-attached the run: ${w.events.map((e) => e.type).join(' ')}`);
    assert.equal(w.events.at(-1)?.type, 'run.completed');
    assertExactlyOnce(w, workdir);
  });

  it('200 concurrent watchers of one run share one reader and all see the whole run', { timeout: 60_000 }, async () => {
    const { id, workdir } = await createStarted(40);
    const watchers = Array.from({ length: 200 }, () => watch(`${vx.url}/jobs/${id}/events`));
    let peak = { hubs: 0, watchers: 0 };
    const sampler = setInterval(() => {
      const s = vx.ctx.liveEvents.stats();
      if (s.watchers > peak.watchers) peak = s;
    }, 5);
    await Promise.all(watchers.map((w) => w.done));
    clearInterval(sampler);
    assert.equal(peak.hubs, 1, `one hub for ${peak.watchers} watchers`);
    assert.ok(peak.watchers > 150, `most watchers were connected at once (${peak.watchers})`);
    for (const w of watchers) assertExactlyOnce(w, workdir);
    assert.deepEqual(vx.ctx.liveEvents.stats(), { hubs: 0, watchers: 0 });
  });
});
