// ComfyUI faults: each ends the affected run (or start) with a code, and the next run succeeds.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, isAlive, until } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { spawnSimulator, startSimulator } from '../support/simulator.ts';
import { startVidaxWithSim, workflow } from '../support/vidax.ts';
import { startHangProxy } from './support/hang-proxy.ts';

const slow = (steps: number, stepMs: number) => ({
  '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps, step_ms: stepMs } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'fault' } },
});
type Vidax = Awaited<ReturnType<typeof startVidaxWithSim>>;
const types = async (vx: Vidax, id: string) => (await vx.events(id)).map((e: { type: string }) => e.type);

/** A simulator on a fixed port (so a second one can take the same URL), in its own temp dirs. */
async function simOnPort(port: number, args: string[] = []) {
  const dir = tempDir('vidax-sim-');
  const sim = spawnSimulator(port, ['--output-directory', join(dir, 'out'), '--input-directory', join(dir, 'in'), '--temp-directory', join(dir, 'tmp'), ...args]);
  await sim.waitFor(/To see the GUI go to/);
  return {
    async stop() {
      if (sim.child.exitCode === null && sim.child.signalCode === null) sim.child.kill('SIGKILL');
      await sim.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stops the server and removes its temp folder (testConfig's base: the runs dir's parent). */
async function done(vx: Vidax) {
  await vx.close();
  rmSync(dirname(vx.config.runsDir), { recursive: true, force: true });
}

/** A run that succeeds: the proof that VIDAX recovered from the fault. */
async function nextRunSucceeds(vx: Vidax) {
  const id = await vx.createRun({ workflow: workflow('single') });
  const started = await vx.start(id);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const end = await vx.waitEnd(id, 30_000);
  assert.equal(end.run_status, 'completed');
  assert.equal(end.exit_status, 'success');
}

describe('ComfyUI faults', { timeout: 180_000 }, () => {
  it('crash mid-run: the run fails COMFYUI_CRASHED, the manager restarts ComfyUI, the next run completes', async () => {
    const vx = await startVidaxWithSim();
    try {
      const id = await vx.createRun({ workflow: slow(200, 20) });
      assert.equal((await vx.start(id)).status, 202);
      const h = await until('the prompt to run in ComfyUI', async () => {
        const health = await vx.comfyuiHealth();
        return health.queue?.running === 1 ? health : null;
      }, 20_000);
      assert.equal(h.managed, true);
      process.kill(h.pid, 'SIGKILL');
      const end = await vx.waitEnd(id, 30_000);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.error.code, 'COMFYUI_CRASHED');
      assert.match(end.error.message, /SIGKILL/);
      const restarted = await until('ComfyUI to be restarted', async () => {
        const health = await vx.comfyuiHealth();
        return health.status === 'ready' && health.pid !== h.pid ? health : null;
      }, 30_000);
      assert.ok(isAlive(restarted.pid));
      await nextRunSucceeds(vx);
    } finally {
      await done(vx);
    }
  });

  it('hang at start: an adopted ComfyUI that never answers fails the start with a code, the run stays queued', async () => {
    const port = await freePort();
    const hung = await simOnPort(port, ['--hang-http']);
    const vx = await startVidaxWithSim({ comfyui: { url: `http://127.0.0.1:${port}`, autoStart: false, healthTimeoutMs: 500, requestTimeoutMs: 1000 } });
    try {
      const id = await vx.createRun({ workflow: workflow('single') });
      const res = await vx.start(id).timeout(15_000);
      assert.equal(res.status, 500);
      assert.equal(res.body.error.code, 'COMFYUI_START_FAILED');
      assert.equal((await vx.get(id)).body.run_status, 'queued');
      const failed = (await vx.events(id)).find((e: { type: string }) => e.type === 'run.start_failed');
      assert.equal(failed?.code, 'COMFYUI_START_FAILED');
      const health = await vx.comfyuiHealth();
      assert.equal(health.ok, false);
      // A healthy ComfyUI takes the same address: the same run starts and completes.
      await hung.stop();
      const healthy = await simOnPort(port);
      try {
        assert.equal((await vx.start(id)).status, 202);
        assert.equal((await vx.waitEnd(id)).exit_status, 'success');
        await nextRunSucceeds(vx);
      } finally {
        await healthy.stop();
      }
    } finally {
      await done(vx);
      await hung.stop();
    }
  });

  it('hang mid-run: ComfyUI stops answering during a run; the run fails with a code within a bound, the next run completes', async () => {
    const sim = await startSimulator();
    const proxy = await startHangProxy(sim.port);
    const vx = await startVidaxWithSim({ comfyui: { url: proxy.url, autoStart: false, healthTimeoutMs: 500, requestTimeoutMs: 1000 } });
    try {
      const id = await vx.createRun({ workflow: slow(100, 50) });
      assert.equal((await vx.start(id)).status, 202);
      await until('the prompt to run in ComfyUI', async () => (await vx.comfyuiHealth()).queue?.running === 1, 20_000);
      proxy.hang();
      const end = await vx.waitEnd(id, 45_000);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.error.code, 'COMFYUI_CRASHED');
      assert.match(end.error.message, /unreachable/);
      proxy.resume();
      await nextRunSucceeds(vx);
    } finally {
      await done(vx);
      await proxy.close();
      await sim.stop();
    }
  });

  it('restart while ComfyUI hangs: the run is "not known yet" (stays running), then re-attached and completed once ComfyUI answers', async () => {
    const sim = await startSimulator();
    const proxy = await startHangProxy(sim.port);
    const comfyui = { url: proxy.url, autoStart: false, healthTimeoutMs: 500, requestTimeoutMs: 1000 };
    const first = await startVidaxWithSim({ comfyui });
    const runsDir = first.config.runsDir;
    let second: Awaited<ReturnType<typeof startVidaxWithSim>> | undefined;
    try {
      const id = await first.createRun({ workflow: slow(120, 50) });
      assert.equal((await first.start(id)).status, 202);
      await until('the prompt to run in ComfyUI', async () => (await first.comfyuiHealth()).queue?.running === 1, 20_000);
      await first.close(); // the run stays running for the next start
      proxy.hang();
      const t0 = Date.now();
      second = await startVidaxWithSim({ runsDir, comfyui });
      const vx = second;
      await until('recovery to defer the run', () => vx.log.lines.some((l) => l.msg === 'recovered runs'), 20_000);
      const recovered = vx.log.lines.find((l) => l.msg === 'recovered runs') as { deferred?: string[]; failed?: string[] };
      console.log(`hanging ComfyUI at restart: recovery decided in ${Date.now() - t0} ms: ${JSON.stringify(recovered)}`);
      assert.deepEqual(recovered.deferred, [id]);
      assert.deepEqual(recovered.failed, []);
      assert.equal((await vx.get(id)).body.run_status, 'running');
      proxy.resume();
      const end = await vx.waitEnd(id, 60_000);
      assert.equal(end.exit_status, 'success', JSON.stringify(end.error));
      assert.ok((await types(vx, id)).includes('run.reattached'));
    } finally {
      if (second) await done(second);
      else await first.close();
      await proxy.close();
      await sim.stop();
    }
  });

  it('silent WebSocket: runs still complete through history polling', async () => {
    const vx = await startVidaxWithSim({ simArgs: ['--silent-ws'] });
    try {
      const id = await vx.createRun({ workflow: slow(5, 20) });
      assert.equal((await vx.start(id)).status, 202);
      const end = await vx.waitEnd(id, 30_000);
      assert.equal(end.exit_status, 'success');
      const seen = await types(vx, id);
      assert.ok(!seen.includes('comfyui.progress'), 'no progress can come from a silent socket');
      assert.ok(seen.includes('run.completed'));
      await nextRunSucceeds(vx);
    } finally {
      await done(vx);
    }
  });

  it('slow start past the timeout: start is 500 COMFYUI_TIMEOUT, the run stays queued saying why; with enough time it runs', async () => {
    const first = await startVidaxWithSim({ simArgs: ['--startup-delay-ms', '4000'], comfyui: { startTimeoutMs: 1000 } });
    const runsDir = first.config.runsDir;
    let id: string;
    try {
      id = await first.createRun({ workflow: workflow('single') });
      const res = await first.start(id).timeout(20_000);
      assert.equal(res.status, 500);
      assert.equal(res.body.error.code, 'COMFYUI_TIMEOUT');
      assert.equal((await first.get(id)).body.run_status, 'queued');
      const failed = (await first.events(id)).find((e: { type: string }) => e.type === 'run.start_failed');
      assert.equal(failed?.code, 'COMFYUI_TIMEOUT');
      assert.match(failed?.message, /did not become ready within 1000 ms/);
      assert.equal(failed?.run_status, 'queued');
    } finally {
      await first.close();
    }
    const second = await startVidaxWithSim({ runsDir, simArgs: ['--startup-delay-ms', '1000'], comfyui: { startTimeoutMs: 30_000 } });
    try {
      assert.equal((await second.start(id)).status, 202);
      assert.equal((await second.waitEnd(id)).exit_status, 'success');
      await nextRunSucceeds(second);
    } finally {
      await done(second);
    }
  });
});
