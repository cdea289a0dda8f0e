import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ComfyUIClient, createComfyUIClient, mintPromptId } from '../../lib/comfyui/client.ts';
import { type ComfyUIEvent, createEventStream, type EventStream } from '../../lib/comfyui/events.ts';
import { listOutputFiles } from '../../lib/comfyui/outputs.ts';
import type { ComfyUIGraph, RejectedDetails } from '../../lib/comfyui/types.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { fixture, freePort, rejectsWith, startExternal, until } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { type RunningSimulator, spawnSimulator, startSimulator } from '../support/simulator.ts';

/** EmptyImage → (VidaxSlowSteps) → SaveImage under a unique prefix (so nothing is cached). */
function graph(prefix: string, opts: { width?: number; batch?: number; slowSteps?: number } = {}): ComfyUIGraph {
  const g: ComfyUIGraph = {
    '1': { class_type: 'EmptyImage', inputs: { width: opts.width ?? 16, height: 16, batch_size: opts.batch ?? 1, color: 0xff0000 } },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: prefix } },
  };
  if (opts.slowSteps) {
    g['3'] = { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps: opts.slowSteps, step_ms: 50 } };
    g['2'] = { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: prefix } };
  }
  return g;
}


/** Collects the events of one prompt until `executing {node:null}`. */
function collect(events: EventStream, promptId: string) {
  const got: ComfyUIEvent[] = [];
  const unsubscribe = events.subscribe(promptId, (e) => got.push(e));
  return {
    got,
    unsubscribe,
    done: () => until('executing null', () => got.some((e) => e.type === 'executing' && e.data.node === null), 15_000),
  };
}

describe('ComfyUI client against the simulator', () => {
  let sim: RunningSimulator;
  let client: ComfyUIClient;
  let events: EventStream;
  before(async () => {
    sim = await startSimulator();
    client = createComfyUIClient({ url: sim.url, requestTimeoutMs: 5000 });
    events = createEventStream({ url: sim.url, log: createMemoryLogger(), backoff: { initialMs: 100, maxMs: 400 } });
  });
  after(async () => {
    events.close();
    await client.close();
    await sim.stop();
  });

  it('mints lowercase UUID prompt ids and reads system stats', async () => {
    assert.match(mintPromptId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const stats = await client.systemStats();
    assert.equal(typeof stats.system.comfyui_version, 'string');
    assert.ok(stats.devices.length >= 1);
  });

  it('submits with our ids, streams only that prompt\'s events, then reads history and downloads outputs', async () => {
    const clientId = await events.ready();
    assert.equal(events.clientId, clientId);
    const a = mintPromptId();
    const b = mintPromptId();
    const ca = collect(events, a);
    const cb = collect(events, b);
    const ra = await client.submit({ prompt: graph(`vidax/${a}/img`, { batch: 2 }), promptId: a, clientId });
    const rb = await client.submit({ prompt: graph(`vidax/${b}/img`), promptId: b, clientId });
    assert.deepEqual({ id: ra.prompt_id, errors: ra.node_errors }, { id: a, errors: {} });
    assert.ok(rb.number > ra.number);
    await ca.done();
    await cb.done();
    ca.unsubscribe();
    cb.unsubscribe();
    for (const [c, id] of [[ca, a], [cb, b]] as const) {
      assert.ok(c.got.every((e) => e.data.prompt_id === id), 'only this prompt\'s messages');
      assert.ok(c.got.some((e) => e.type === 'execution_start'));
      assert.ok(c.got.some((e) => e.type === 'executed'));
    }

    const entry = await client.history(a);
    assert.ok(entry);
    assert.equal(entry.status?.status_str, 'success');
    const files = listOutputFiles(entry);
    assert.equal(files.length, 2);
    assert.deepEqual({ node: files[0]?.node, kind: files[0]?.kind, type: files[0]?.type }, { node: '2', kind: 'images', type: 'output' });
    const dest = join(tempDir(), 'outputs', files[0]!.filename);
    const got = await client.download(files[0]!, dest);
    const onDisk = readFileSync(join(sim.outputDir, files[0]!.subfolder, files[0]!.filename));
    assert.equal(got.bytes, onDisk.byteLength);
    assert.equal(got.sha256, createHash('sha256').update(onDisk).digest('hex'));
    assert.deepEqual(readFileSync(dest), onDisk);
    assert.deepEqual(readdirSync(join(dest, '..')), [files[0]!.filename], 'no temp file is left behind');

    assert.equal(await client.history(mintPromptId()), null, 'unknown id: null');
    const missing = await rejectsWith(client.download({ filename: 'nope.png', subfolder: '', type: 'output' }, join(tempDir(), 'x.png')), 'COMFYUI_HTTP_ERROR');
    assert.equal((missing.details as { status: number }).status, 404);
  });

  it('keeps ComfyUI\'s node_errors when a workflow is rejected', async () => {
    const err = await rejectsWith(client.submit({ prompt: graph('bad', { width: 0 }), promptId: mintPromptId() }), 'COMFYUI_REJECTED');
    const details = err.details as RejectedDetails;
    assert.equal(typeof details.error === 'object' && details.error.type, 'prompt_outputs_failed_validation');
    assert.equal(details.node_errors['1']?.errors[0]?.type, 'value_smaller_than_min');
    assert.equal(details.node_errors['1']?.class_type, 'EmptyImage');
    assert.equal(err.status, 500);
  });

  it('lists the queue sorted, deletes a pending prompt and interrupts the running one by id', async () => {
    const clientId = await events.ready();
    const [running, p1, p2] = [mintPromptId(), mintPromptId(), mintPromptId()];
    const cr = collect(events, running);
    await client.submit({ prompt: graph(`q/${running}`, { slowSteps: 200 }), promptId: running, clientId });
    await client.submit({ prompt: graph(`q/${p1}`), promptId: p1, clientId });
    await client.submit({ prompt: graph(`q/${p2}`), promptId: p2, clientId });
    await until('the slow prompt to run', () => cr.got.some((e) => e.type === 'progress'));
    const queue = await client.queue();
    assert.deepEqual(queue.running.map((q) => q.prompt_id), [running]);
    assert.deepEqual(queue.pending.map((q) => q.prompt_id), [p1, p2]);
    assert.equal(queue.running[0]?.client_id, clientId);
    await client.deleteQueued([p2]);
    assert.deepEqual((await client.queue()).pending.map((q) => q.prompt_id), [p1]);
    await client.interrupt(running);
    await cr.done();
    assert.ok(cr.got.some((e) => e.type === 'execution_interrupted'));
    const entry = await until('history of the interrupted prompt', () => client.history(running));
    assert.equal(entry.status?.status_str, 'error');
    await until('p1 to finish', () => client.history(p1));
    assert.equal(await client.history(p2), null, 'the deleted prompt never ran');
  });

  it('uploads an input file and returns ComfyUI\'s name for it', async () => {
    const file = join(tempDir(), 'input.png');
    const bytes = readFileSync(join(sim.outputDir, readdirSync(sim.outputDir, { recursive: true }).map(String).find((f) => f.endsWith('.png'))!));
    writeFileSync(file, bytes);
    const up = await client.upload(file, { subfolder: 'vidax' });
    assert.deepEqual(up, { name: 'input.png', subfolder: 'vidax', type: 'input' });
    assert.deepEqual(readFileSync(join(sim.inputDir, 'vidax', 'input.png')), bytes);
    assert.ok(existsSync(file));
  });
});

describe('ComfyUI client failures', () => {
  it('maps a closed port, a hanging server and a 500 to stable codes', async () => {
    const closed = createComfyUIClient({ url: `http://127.0.0.1:${await freePort()}`, requestTimeoutMs: 2000 });
    const e1 = await rejectsWith(closed.systemStats(), 'COMFYUI_UNREACHABLE');
    assert.match(e1.message, /ECONNREFUSED/);
    await closed.close();

    const hanging = await startSimulator({ args: ['--hang-http'] });
    const slow = createComfyUIClient({ url: hanging.url, requestTimeoutMs: 300 });
    await rejectsWith(slow.queue(), 'COMFYUI_TIMEOUT');
    await rejectsWith(slow.submit({ prompt: graph('x'), promptId: mintPromptId() }, { timeoutMs: 200 }), 'COMFYUI_TIMEOUT');
    await slow.close();
    await hanging.stop();

    const port = await freePort();
    const bad = await startExternal(fixture('http-500', '--port', String(port)));
    const c500 = createComfyUIClient({ url: `http://127.0.0.1:${port}`, requestTimeoutMs: 2000 });
    const e3 = await rejectsWith(c500.submit({ prompt: graph('x'), promptId: mintPromptId() }), 'COMFYUI_HTTP_ERROR');
    assert.deepEqual((e3.details as { status: number }).status, 500);
    assert.match((e3.details as { body: string }).body, /Internal Server Error/);
    await c500.close();
    await bad.stop();
  });
});

describe('ComfyUI event stream', () => {
  it('reconnects with a new clientId after ComfyUI restarts, telling listeners', async () => {
    const port = await freePort();
    let sim = spawnSimulator(port);
    await sim.waitFor(/To see the GUI go to:/);
    const url = `http://127.0.0.1:${port}`;
    const events = createEventStream({ url, log: createMemoryLogger(), backoff: { initialMs: 50, maxMs: 200 } });
    const client = createComfyUIClient({ url, requestTimeoutMs: 5000 });
    try {
      const changes: [string, string][] = [];
      events.onConnectionChange((state, id) => changes.push([state, id]));
      const first = await events.ready();
      const pending = collect(events, mintPromptId()); // a subscriber keeps the stream reconnecting
      sim.child.kill('SIGKILL');
      await sim.exited;
      await until('the loss to be reported', () => changes.some(([s]) => s === 'lost'));
      assert.equal(events.clientId, null);
      sim = spawnSimulator(port);
      await sim.waitFor(/To see the GUI go to:/);
      const second = await until('a new connection', () => changes.find(([s, id]) => s === 'open' && id !== first)?.[1]);
      assert.notEqual(second, first, 'never reuses a clientId');
      assert.deepEqual(changes.map(([s]) => s), ['open', 'lost', 'open']);
      pending.unsubscribe();
      const id = mintPromptId();
      const c = collect(events, id);
      await client.submit({ prompt: graph(`re/${id}`), promptId: id, clientId: await events.ready() });
      await c.done();
    } finally {
      events.close();
      await client.close();
      sim.child.kill('SIGKILL');
      await sim.exited;
    }
  });

  it('times out ready() on a socket that never speaks, and on no server at all', async () => {
    const silent = await startSimulator({ args: ['--silent-ws'] });
    const log = createMemoryLogger();
    const s1 = createEventStream({ url: silent.url, log });
    await rejectsWith(s1.ready(300), 'COMFYUI_TIMEOUT');
    s1.close();
    await silent.stop();
    const s2 = createEventStream({ url: `http://127.0.0.1:${await freePort()}`, log, backoff: { initialMs: 50, maxMs: 100 } });
    await rejectsWith(s2.ready(300), 'COMFYUI_UNREACHABLE');
    s2.close();
  });
});
