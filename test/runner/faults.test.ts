import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { until } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { spawnSimulator, startSimulator } from '../support/simulator.ts';
import { startVidaxWithSim, workflow } from '../support/vidax.ts';

const slowWorkflow = (steps: number, stepMs: number, prefix: string) => ({
  '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps, step_ms: stepMs } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: prefix } },
});

type Vidax = Awaited<ReturnType<typeof startVidaxWithSim>>;
const eventTypes = async (vx: Vidax, id: string) => (await vx.events(id)).map((e: { type: string }) => e.type);
const waitRunning = (vx: Vidax, id: string) =>
  until('the prompt to run', async () => {
    const m = await vx.manifest(id);
    return m.phases.comfyui.prompt_id && (await eventTypes(vx, id)).includes('comfyui.progress') ? m : null;
  }, 20_000);

describe('runner faults', () => {
  it('a crash of the managed ComfyUI mid-run fails it COMFYUI_CRASHED; the next run succeeds after the restart', async () => {
    const vx = await startVidaxWithSim();
    try {
      const id = await vx.createRun({ workflow: slowWorkflow(200, 50, 'crash') });
      assert.equal((await vx.start(id)).status, 202);
      await waitRunning(vx, id);
      const { pid } = await vx.comfyuiHealth();
      process.kill(pid, 'SIGKILL');
      const end = await vx.waitEnd(id);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.error.code, 'COMFYUI_CRASHED');
      assert.equal(end.phases.comfyui.status, 'failed');
      const next = await vx.createRun({ workflow: workflow('single') });
      assert.equal((await vx.start(next)).status, 202);
      assert.equal((await vx.waitEnd(next)).exit_status, 'success');
      assert.notEqual((await vx.comfyuiHealth()).pid, pid, 'a new ComfyUI process serves the next run');
    } finally {
      await vx.close();
    }
  });

  it('a silent WebSocket still completes runs through history polling', async () => {
    const vx = await startVidaxWithSim({ simArgs: ['--silent-ws'] });
    try {
      const id = await vx.createRun({ workflow: workflow('single') });
      await vx.start(id);
      const end = await vx.waitEnd(id);
      assert.equal(end.exit_status, 'success');
      const started = (await vx.events(id)).find((e: { type: string; phase?: string }) => e.type === 'phase.started' && e.phase === 'comfyui');
      assert.equal(started.events, false, 'the run knew it had no events');
      assert.equal((await vx.manifest(id)).artifacts.length, 2);
    } finally {
      await vx.close();
    }
  });

  it('if ComfyUI cannot start, start answers 500 with the code and the run stays queued with an event', async () => {
    const vx = await startVidaxWithSim({ simArgs: ['--exit-at-start', '3'] });
    try {
      const id = await vx.createRun({ workflow: workflow('single') });
      const res = await vx.start(id);
      assert.equal(res.status, 500);
      assert.equal(res.body.error.code, 'COMFYUI_START_FAILED');
      assert.equal((await vx.get(id)).body.run_status, 'queued');
      const failed = (await vx.events(id)).find((e: { type: string }) => e.type === 'run.start_failed');
      assert.equal(failed.code, 'COMFYUI_START_FAILED');
    } finally {
      await vx.close();
    }
  });

  it('a VIDAX restart mid-run re-attaches the run to its prompt and finishes it', async () => {
    const sim = await startSimulator();
    const runsDir = tempDir();
    try {
      const first = await startVidaxWithSim({ port: sim.port, runsDir });
      const id = await first.createRun({ workflow: slowWorkflow(40, 50, 'reattach') });
      await first.start(id);
      await waitRunning(first, id);
      await first.close(); // VIDAX goes away; the adopted ComfyUI keeps running the prompt
      const second = await startVidaxWithSim({ port: sim.port, runsDir });
      try {
        const end = await second.waitEnd(id);
        assert.equal(end.exit_status, 'success');
        assert.ok((await eventTypes(second, id)).includes('run.reattached'));
        const m = await second.manifest(id);
        assert.ok(m.artifacts.some((a: { path: string }) => a.path === 'outputs/reattach_00001_.png'));
      } finally {
        await second.close();
      }
    } finally {
      await sim.stop();
    }
  });

  it('a run whose prompt ComfyUI lost (it restarted too) fails COMFYUI_PROMPT_LOST after the VIDAX restart', async () => {
    const sim = await startSimulator();
    const runsDir = tempDir();
    const first = await startVidaxWithSim({ port: sim.port, runsDir });
    const id = await first.createRun({ workflow: slowWorkflow(200, 50, 'lost') });
    await first.start(id);
    await waitRunning(first, id);
    await first.close();
    await sim.stop();
    const fresh = spawnSimulator(sim.port);
    try {
      await fresh.waitFor(/To see the GUI go to/);
      const second = await startVidaxWithSim({ port: sim.port, runsDir });
      try {
        const end = await second.waitEnd(id);
        assert.equal(end.run_status, 'failed');
        assert.equal(end.error.code, 'COMFYUI_PROMPT_LOST');
      } finally {
        await second.close();
      }
    } finally {
      fresh.child.kill('SIGKILL');
      await fresh.exited;
    }
  });
});
