// POST /jobs/:id/cancel against the real Node server and the simulator (a real ComfyUI stand-in),
// plus a kill -9 of the real VIDAX process right after a cancel was accepted.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { type RunningSimulator, startSimulator } from '../support/simulator.ts';
import { startVidaxWithSim } from '../support/vidax.ts';
import { call } from '../reliability/support/http.ts';
import { KEY, startVidaxProc } from '../reliability/support/proc.ts';

type Vidax = Awaited<ReturnType<typeof startVidaxWithSim>>;
const slow = (steps: number, prefix = 'cancel') => ({
  '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps, step_ms: 20 } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: prefix } },
});
const queueOf = async (url: string) =>
  (await (await fetch(`${url}/queue`)).json()) as { queue_running: unknown[][]; queue_pending: unknown[][] };
const promptIdsIn = (items: unknown[][]) => items.map((item) => item[1]);

describe('POST /jobs/:id/cancel', () => {
  let vx: Vidax;
  const cancel = (id: string) => fetch(`${vx.running.url}/jobs/${id}/cancel`, { method: 'POST', headers: { 'x-api-key': KEY } });
  before(async () => {
    vx = await startVidaxWithSim();
  });
  after(() => vx.close());

  it('fails a queued run CANCELLED at once (200), idempotently; it can no longer start', async () => {
    const id = await vx.createRun({ workflow: slow(1) });
    const res = await cancel(id);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.run_status, 'failed');
    assert.equal(body.exit_status, 'failed');
    assert.equal(body.error.code, 'CANCELLED');
    assert.deepEqual(body.error.details, { phase: null });
    assert.ok(Object.values(body.phases).every((p) => (p as { status: string }).status === 'skipped'));
    const again = await cancel(id);
    assert.equal(again.status, 200);
    assert.equal((await again.json()).error.code, 'CANCELLED');
    const start = await vx.start(id);
    assert.equal(start.status, 409);
    assert.equal(start.body.error.code, 'run_already_started');
    const types = (await vx.events(id)).map((e: { type: string }) => e.type);
    assert.deepEqual(types, ['run.created', 'run.cancel_requested', 'run.failed']);
  });

  it('interrupts a running prompt by id: 202, then failed CANCELLED in the comfyui phase', async () => {
    const id = await vx.createRun({ workflow: slow(400) }); // 8 s if nothing stops it
    assert.equal((await vx.start(id)).status, 202);
    const m0 = await until('the prompt to run', async () => {
      const m = await vx.manifest(id);
      return m.phases.comfyui.queue_position === 0 ? m : null;
    }, 15_000);
    const t0 = Date.now();
    const res = await cancel(id);
    assert.equal(res.status, 202);
    const body = await res.json();
    assert.equal(body.run_status, 'running');
    assert.match(body.cancel_requested_at, /^\d{4}-\d\d-\d\dT/);
    const end = await vx.waitEnd(id, 10_000);
    assert.ok(Date.now() - t0 < 3000, `stopped in ${Date.now() - t0} ms`);
    assert.equal(end.run_status, 'failed');
    assert.equal(end.error.code, 'CANCELLED');
    assert.equal(end.phases.comfyui.status, 'failed');
    assert.equal(end.phases.comfyui.error.code, 'CANCELLED');
    assert.equal(end.phases.encode.status, 'skipped');
    const types = (await vx.events(id)).map((e: { type: string }) => e.type);
    assert.ok(types.includes('run.cancel_requested'));
    assert.ok(types.includes('comfyui.interrupted_by_vidax'));
    assert.equal(types.at(-1), 'run.failed');
    const q = await queueOf(`http://127.0.0.1:${vx.port}`);
    assert.ok(!promptIdsIn([...q.queue_running, ...q.queue_pending]).includes(m0.phases.comfyui.prompt_id));
    const again = await cancel(id);
    assert.equal(again.status, 200);
  });

  it('removes a prompt still waiting in ComfyUI\'s queue; the run ahead of it completes', async () => {
    const first = await vx.createRun({ workflow: slow(200, 'ahead') }); // 4 s: room for the cancel on a loaded machine
    const second = await vx.createRun({ workflow: slow(60, 'behind') });
    await vx.start(first);
    await vx.start(second);
    const waiting = await until('the second prompt to wait', async () => {
      const m = await vx.manifest(second);
      return m.phases.comfyui.queue_position === 1 ? m : null;
    }, 15_000);
    assert.equal((await cancel(second)).status, 202);
    const end = await vx.waitEnd(second, 10_000);
    assert.equal(end.error.code, 'CANCELLED');
    const q = await queueOf(`http://127.0.0.1:${vx.port}`);
    assert.ok(!promptIdsIn(q.queue_pending).includes(waiting.phases.comfyui.prompt_id));
    assert.equal((await vx.waitEnd(first, 15_000)).run_status, 'completed');
    const history = await (await fetch(`http://127.0.0.1:${vx.port}/history/${waiting.phases.comfyui.prompt_id}`)).json();
    assert.deepEqual(history, {}, 'the cancelled prompt never ran');
  });

  it('409 run_finished for a completed run; 404 for unknown and malformed ids', async () => {
    const id = await vx.createRun({ workflow: slow(1, 'done') });
    await vx.start(id);
    assert.equal((await vx.waitEnd(id)).run_status, 'completed');
    const res = await cancel(id);
    assert.equal(res.status, 409);
    assert.equal((await res.json()).error.code, 'run_finished');
    for (const bad of ['r_1767225600000_0000aaaaaa', 'nope', '..%2F..%2Fetc']) {
      const r = await cancel(bad);
      assert.equal(r.status, 404, bad);
      assert.equal((await r.json()).error.code, 'run_not_found');
    }
  });
});

describe('a cancel accepted just before a kill -9 is honoured by recovery', () => {
  let sim: RunningSimulator;
  let base: string;
  before(async () => {
    sim = await startSimulator();
    base = tempDir('vidax-cancel-crash-');
  });
  after(async () => {
    await sim?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('the run ends failed CANCELLED after the restart and its prompt does not run on', { timeout: 60_000 }, async () => {
    const config = { comfyui: { url: sim.url, autoStart: false, requestTimeoutMs: 5000 } };
    const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
    let vx = await startVidaxProc(join(base, 'a'), { ...config, runsDir: join(base, 'runs') });
    try {
      const created = await call(vx.url, '/jobs', { method: 'POST', headers, body: JSON.stringify({ workflow: slow(500, 'crash') }) });
      const id = JSON.parse(created.text).run_id as string;
      assert.equal((await call(vx.url, `/jobs/${id}/start`, { method: 'POST', headers })).status, 202);
      await until('the prompt to run', async () => ((await queueOf(sim.url)).queue_running.length > 0 ? true : null), 15_000);
      const res = await call(vx.url, `/jobs/${id}/cancel`, { method: 'POST', headers });
      await vx.kill(); // right after the 202: the runner may not have stopped anything yet
      assert.equal(res.status, 202);
      vx = await startVidaxProc(join(base, 'b'), { ...config, runsDir: join(base, 'runs') });
      const end = await until('the run to end', async () => {
        const r = JSON.parse((await call(vx.url, `/jobs/${id}`, { headers })).text);
        return r.run_status === 'running' ? null : r;
      }, 20_000);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.error.code, 'CANCELLED');
      assert.equal(end.phases.comfyui.status, 'failed');
      const events = (await call(vx.url, `/jobs/${id}/logs`, { headers })).text;
      assert.ok(events.includes('run.cancel_requested'));
      const q = await queueOf(sim.url);
      assert.equal(q.queue_running.length + q.queue_pending.length, 0, 'nothing left running in ComfyUI');
    } finally {
      await vx.kill();
    }
  });
});
