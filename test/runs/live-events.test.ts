// GET /jobs/:id/events called as a function over a real run store: replay, follow, heartbeat,
// a reader that does not keep up, the end of a run, and resume ids that cannot be right.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import eventsFn from '../../functions/jobs-id-events.get.ts';
import type { Job } from '../../lib/jobs/schema.ts';
import { createLiveEvents, type LiveEventsOptions } from '../../lib/runs/live-events.ts';
import { createRunStore } from '../../lib/runs/store.ts';
import { until } from '../support/comfyui.ts';
import { authed, baseContext, tempDir } from '../support/context.ts';
import { fixtureWorkflow } from '../support/jobs.ts';

const job = (): Job => ({ workflow: fixtureWorkflow('workflow-single') as Job['workflow'] });

async function setup(opts: LiveEventsOptions = {}) {
  const runs = createRunStore({ runsDir: tempDir() });
  const liveEvents = createLiveEvents(runs, opts);
  const ctx = { ...baseContext(), liveEvents };
  const { run_id: id } = await runs.create(job());
  const open = (query = '', headers: Record<string, string> = {}, signal?: AbortSignal) =>
    eventsFn.fetch(new Request(`http://x/jobs/${id}/events${query}`, { ...authed({ headers }), ...(signal ? { signal } : {}) }), ctx);
  return { runs, liveEvents, id, open };
}

/** Reads an SSE body until `stop(text)` or its end; returns the text. */
async function readUntil(res: Response, stop: (text: string) => boolean = () => false): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += dec.decode(value, { stream: true });
    if (stop(text)) {
      await reader.cancel();
      return text;
    }
  }
}

const ids = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));

describe('GET /jobs/:id/events (function)', () => {
  it('replays the log as id/event/data frames (data = the events.jsonl line), follows, ends after run.failed', async () => {
    const { runs, id, open } = await setup();
    await runs.appendEvent(id, 'phase.started', { phase: 'prepare' });
    const res = await open();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reading = readUntil(res);
    await runs.appendEvent(id, 'comfyui.progress', { value: 1, max: 2 });
    await runs.appendEvent(id, 'run.failed', { code: 'X' });
    await runs.appendEvent(id, 'after.end'); // not sent: the stream ended
    const text = await reading;
    assert.deepEqual(ids(text), [1, 2, 3, 4]);
    const lines = readFileSync(runs.paths(id).events, 'utf8').trim().split('\n');
    const frames = text.split('\n\n').filter((f) => f.startsWith('id:'));
    frames.forEach((frame, i) => {
      const ev = JSON.parse(lines[i] as string);
      assert.equal(frame, `id: ${ev.seq}\nevent: ${ev.type}\ndata: ${lines[i]}`);
    });
    assert.match(text, /^retry: 1000\n\n/);
  });

  it('resumes after Last-Event-ID (which wins over ?after=); 204 once the run ended and nothing is left', async () => {
    const { runs, id, open } = await setup();
    for (let i = 0; i < 5; i++) await runs.appendEvent(id, 'tick', { i });
    const a = open('?after=1', { 'last-event-id': '4' });
    await runs.appendEvent(id, 'run.completed');
    assert.deepEqual(ids(await readUntil(await a)), [5, 6, 7]);
    assert.deepEqual(ids(await readUntil(await open('?after=5'))), [6, 7]);
    const done = await open('', { 'last-event-id': '7' });
    assert.equal(done.status, 204);
  });

  it('400 invalid_last_event_id for text, negative, fractional or future ids; 404 for unknown runs', async () => {
    const { id, open, liveEvents } = await setup();
    for (const [q, h] of [['', 'abc'], ['', '-1'], ['', '1.5'], ['?after=x', ''], ['?after=1e3', ''], ['', '9'.repeat(40)]] as const) {
      const res = await open(q, h ? { 'last-event-id': h } : {});
      assert.equal(res.status, 400, `${q} ${h}`);
      assert.equal((await res.json()).error.code, 'invalid_last_event_id');
    }
    const future = await open('', { 'last-event-id': '50' });
    assert.equal(future.status, 400);
    assert.deepEqual((await future.json()).error.details, { last_seq: 1 });
    const ctx = { ...baseContext(), liveEvents };
    const unknown = await eventsFn.fetch(new Request('http://x/jobs/r_1767225600000_0000zzzzzz/events', authed()), ctx);
    assert.equal(unknown.status, 404);
    assert.deepEqual(liveEvents.stats(), { hubs: 0, watchers: 0 }, `nothing left behind for ${id}`);
  });

  it('sends a heartbeat comment while the run is quiet', async () => {
    const { open, liveEvents } = await setup({ heartbeatMs: 40 });
    const text = await readUntil(await open(), (t) => (t.match(/: keep-alive/g) ?? []).length >= 2);
    assert.deepEqual(ids(text), [1]);
    await until('the watcher to leave', () => liveEvents.stats().watchers === 0 || null);
  });

  it('cuts off a reader that does not keep up instead of buffering; the others go on', async () => {
    const { runs, id, open, liveEvents } = await setup({ maxQueuedBytes: 20_000 });
    const slow = await open(); // its body is never read
    const fast = await open();
    const reading = readUntil(fast);
    assert.deepEqual(liveEvents.stats(), { hubs: 1, watchers: 2 });
    const pad = 'x'.repeat(500);
    for (let i = 0; i < 100; i++) await runs.appendEvent(id, 'tick', { pad });
    assert.deepEqual(liveEvents.stats(), { hubs: 1, watchers: 1 }, 'the slow one was dropped');
    await runs.appendEvent(id, 'run.completed');
    assert.equal(ids(await reading).length, 102);
    const cut = await readUntil(slow);
    assert.ok(ids(cut).length < 60, `the slow reader got ${ids(cut).length} events, then the end`);
    assert.deepEqual(liveEvents.stats(), { hubs: 0, watchers: 0 });
  });

  it('a client that goes away leaves the hub', async () => {
    const { open, liveEvents } = await setup();
    const ac = new AbortController();
    await open('', {}, ac.signal);
    assert.deepEqual(liveEvents.stats(), { hubs: 1, watchers: 1 });
    ac.abort();
    assert.deepEqual(liveEvents.stats(), { hubs: 0, watchers: 0 });
  });
});
