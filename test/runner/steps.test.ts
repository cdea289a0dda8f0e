import assert from 'node:assert/strict';
import { createTerminalWriter } from '../../lib/runner/terminal.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunError } from '../../lib/errors.ts';
import type { Job } from '../../lib/jobs/schema.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import type { PhaseName } from '../../lib/runs/manifest.ts';
import { finishRun, type RunSteps } from '../../lib/runner/finish-run.ts';
import { createPhasePatcher } from '../../lib/runner/phase-patcher.ts';
import { beginPhase, endPhase } from '../../lib/runner/phases.ts';
import { FakeRunStore } from '../fakes/run-store.ts';
import { MEDIA_CONFIG, makePng, realTools } from '../support/media.ts';

const JOB = { workflow: { '1': { class_type: 'EmptyImage', inputs: {} } } } as unknown as Job;

describe('phase patcher', () => {
  it('coalesces a burst of patches into one write, the latest value of each field winning', async () => {
    const runs = new FakeRunStore();
    const id = runs.seed(JOB);
    const patcher = createPhasePatcher(runs, id, createMemoryLogger());
    for (let i = 1; i <= 50; i++) patcher.patch({ progress: { value: i, max: 50 }, ...(i === 1 ? { queue_position: 3 } : {}) });
    patcher.patch({ queue_position: 0 });
    await patcher.drain();
    assert.equal(runs.writes.get(id), 1);
    const phase = runs.manifests.get(id)?.phases.comfyui;
    assert.deepEqual([phase?.progress, phase?.queue_position], [{ value: 50, max: 50 }, 0]);
  });

  it('writes nothing in its quiet time: those patches are taken for the next write, or written once it is over', async () => {
    const runs = new FakeRunStore();
    const id = runs.seed(JOB);
    const short = createPhasePatcher(runs, id, createMemoryLogger(), 10_000);
    short.patch({ queue_position: 0 });
    short.patch({ progress: { value: 1, max: 2 } });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(runs.writes.get(id) ?? 0, 0, 'no write of their own while quiet');
    assert.deepEqual(short.take(), { queue_position: 0, progress: { value: 1, max: 2 } });
    assert.equal(short.take(), null, 'taken once');
    await short.drain();
    assert.equal(runs.writes.get(id) ?? 0, 0);

    const drained = createPhasePatcher(runs, id, createMemoryLogger(), 10_000);
    drained.patch({ queue_position: 2 });
    await drained.drain(); // e.g. a failing run: written now, not lost
    assert.equal(runs.writes.get(id), 1);
    assert.equal(runs.manifests.get(id)?.phases.comfyui.queue_position, 2);

    const long = createPhasePatcher(runs, id, createMemoryLogger(), 30);
    long.patch({ queue_position: 0 });
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(runs.writes.get(id), 2, 'written once the quiet time is over');
    assert.equal(long.take(), null);
    long.patch({ queue_position: 1 });
    await Promise.resolve();
    assert.equal(long.take(), null, 'after the quiet time a patch is written at once');
    await long.drain();
    assert.equal(runs.writes.get(id), 3);
  });

  it('keeps one write in flight: patches during it land in exactly one more, and drain waits for it', async () => {
    const runs = new FakeRunStore();
    const id = runs.seed(JOB);
    const patcher = createPhasePatcher(runs, id, createMemoryLogger());
    patcher.patch({ progress: 1 });
    await Promise.resolve(); // the first write has started
    patcher.patch({ progress: 2 });
    patcher.patch({ progress: 3 });
    await patcher.drain();
    assert.equal(runs.writes.get(id), 2);
    assert.equal(runs.manifests.get(id)?.phases.comfyui.progress, 3);
  });

  it('logs a failed write and goes on: the next patch is written', async () => {
    const runs = new FakeRunStore();
    const id = runs.seed(JOB);
    const log = createMemoryLogger();
    let failNext = true;
    const flaky: Pick<FakeRunStore, 'update'> = {
      update: (rid, mutate) => {
        if (!failNext) return runs.update(rid, mutate);
        failNext = false;
        return Promise.reject(new Error('disk full'));
      },
    };
    const patcher = createPhasePatcher(flaky, id, log);
    patcher.patch({ progress: 1 });
    await patcher.drain();
    patcher.patch({ progress: 2 });
    await patcher.drain();
    assert.equal(runs.manifests.get(id)?.phases.comfyui.progress, 2);
    assert.deepEqual(log.lines.map((l) => [l.msg, l.error]), [['progress write failed', 'disk full']]);
  });
});

describe('finishRun', () => {
  /** A run in its comfyui phase, and the steps finishRun needs (fail recorded, not applied). */
  function running(job: Job = JOB) {
    const runs = new FakeRunStore();
    const id = runs.seed(job, (m) => {
      m.run_status = 'running';
      beginPhase(m, 'prepare');
      endPhase(m, 'prepare', 'completed');
      beginPhase(m, 'comfyui', { prompt_id: 'p', queue_position: 0 });
    });
    const failed: [string, PhaseName, RunError][] = [];
    const steps: RunSteps = {
      runs,
      event: (rid, type, fields) => runs.appendEvent(rid, type, fields),
      fail: async (rid, phase, error) => {
        failed.push([rid, phase, error]);
      },
      end: createTerminalWriter(runs, createMemoryLogger()).end,
      media: { config: MEDIA_CONFIG, tools: realTools, peek: () => null },
      lipsync: () => Promise.reject(new Error('no lipsync in these tests')),
      progressEveryMs: 500,
    };
    return { runs, id, steps, failed };
  }
  const signal = new AbortController().signal;
  const artifact = { path: 'outputs/a.png', bytes: 3, sha256: 'ab', phase: 'comfyui' as const };

  it('VIDAX stopping: nothing is written, the run stays running for recovery', async () => {
    const t = running();
    await finishRun(t.steps, t.id, JOB, { ok: false, stopped: true }, signal);
    assert.equal(t.runs.writes.get(t.id), undefined);
    assert.deepEqual(t.failed, []);
    assert.deepEqual(t.runs.eventTypes(t.id), []);
  });

  it('a comfyui failure fails the run in the comfyui phase with that error', async () => {
    const t = running();
    const error = { code: 'COMFYUI_EXECUTION_ERROR', message: 'node 2 failed' };
    await finishRun(t.steps, t.id, JOB, { ok: false, stopped: false, error }, signal);
    assert.deepEqual(t.failed, [[t.id, 'comfyui', error]]);
  });

  it('success without encode: one write records the outputs and ends the run completed/success', async () => {
    const job = { ...JOB, phases: { encode: { enabled: false } } } as unknown as Job;
    const t = running(job);
    await finishRun(t.steps, t.id, job, { ok: true, artifacts: [artifact], files: 1 }, signal);
    const m = t.runs.manifests.get(t.id);
    assert.equal(t.runs.writes.get(t.id), 1, 'the comfyui outcome and the end of the run in one write');
    assert.deepEqual([m?.run_status, m?.exit_status, m?.phases.comfyui.status, m?.phases.comfyui.outputs, m?.phases.comfyui.queue_position], ['completed', 'success', 'completed', 1, null]);
    assert.equal(m?.phases.encode.status, 'skipped');
    assert.deepEqual(m?.artifacts, [artifact]);
    const types = t.runs.eventTypes(t.id);
    assert.equal(types.at(-1), 'run.completed', 'the last event lands before the final write');
  });

  it('success with encode: the PNG output becomes a one-frame final.mp4 (real ffmpeg), listed with its media', async () => {
    const t = running();
    makePng(join(t.runs.paths(t.id).workdir, 'outputs/a.png'), 32, 24);
    await finishRun(t.steps, t.id, JOB, { ok: true, artifacts: [artifact], files: 1 }, signal);
    const m = t.runs.manifests.get(t.id);
    assert.deepEqual(t.failed, []);
    assert.equal(m?.run_status, 'completed');
    assert.equal(m?.phases.encode.status, 'completed');
    const media = m?.phases.encode.media as { frames: number; width: number; video_codec: string };
    assert.deepEqual([media.frames, media.width, media.video_codec], [1, 32, 'h264']);
    assert.ok(m?.artifacts.some((a) => a.path === 'final.mp4' && a.phase === 'encode'));
    assert.ok(existsSync(t.runs.paths(t.id).final));
  });

  it('encode with no visual output fails ENCODE_NO_MEDIA naming the outputs, and writes no final.mp4', async () => {
    const t = running();
    const notes = { ...artifact, path: 'outputs/notes.txt' };
    await finishRun(t.steps, t.id, JOB, { ok: true, artifacts: [notes], files: 1 }, signal);
    const m = t.runs.manifests.get(t.id);
    assert.deepEqual([m?.run_status, m?.phases.encode.status, m?.error?.code], ['failed', 'failed', 'ENCODE_NO_MEDIA']);
    assert.match(String(m?.error?.message), /notes\.txt/);
    assert.equal(m?.phases.comfyui.status, 'completed', 'the comfyui outcome is recorded');
    assert.equal(existsSync(t.runs.paths(t.id).final), false);
  });
});
