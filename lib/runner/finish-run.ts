import type { Job } from '../job-schema.ts';
import type { PhaseName } from '../manifest.ts';
import type { RunStore } from '../run-store.ts';
import type { ComfyPhaseResult } from './comfyui-phase.ts';
import { isMp4, writeFinal } from './encode.ts';
import type { Failure } from './outputs.ts';
import { beginPhase, endPhase } from './phases.ts';

/** What the steps after ComfyUI need: the store, the event log, and how to fail the run. */
export interface RunSteps {
  runs: Pick<RunStore, 'update' | 'paths'>;
  event(id: string, type: string, fields?: Record<string, unknown>): Promise<unknown>;
  fail(id: string, phase: PhaseName, failure: Failure): Promise<void>;
}

/**
 * After the comfyui phase: records its outcome, skips stabilize and lipsync (not available in
 * stage 1; requested ones make the run `partial`), writes final.mp4 and ends the run.
 */
export async function finishRun(steps: RunSteps, id: string, job: Job, result: ComfyPhaseResult): Promise<void> {
  const { runs, event, fail } = steps;
  if (!result.ok) {
    if (result.stopped) return; // VIDAX is stopping: the next start recovers this run
    return fail(id, 'comfyui', result.failure);
  }
  const paths = runs.paths(id);
  const partialReasons: string[] = [];
  await runs.update(id, (m) => {
    endPhase(m, 'comfyui', 'completed', { outputs: result.files, queue_position: null });
    m.artifacts = [...m.artifacts.filter((a) => a.phase !== 'comfyui'), ...result.artifacts];
    for (const name of ['stabilize', 'lipsync'] as const) {
      if (job.phases?.[name]?.enabled) {
        endPhase(m, name, 'skipped', { requested: true, reason: `${name} is not available in stage 1` });
        partialReasons.push(name);
      } else {
        endPhase(m, name, 'skipped', { requested: false, reason: 'not requested by the job' });
      }
    }
    if (job.phases?.encode?.enabled !== false) beginPhase(m, 'encode');
  });
  await event(id, 'phase.completed', { phase: 'comfyui', outputs: result.files });
  for (const name of ['stabilize', 'lipsync']) {
    await event(id, 'phase.skipped', { phase: name, requested: partialReasons.includes(name) });
  }
  let encode: Awaited<ReturnType<typeof writeFinal>> | null = null;
  if (job.phases?.encode?.enabled !== false) {
    await event(id, 'phase.started', { phase: 'encode' });
    try {
      encode = await writeFinal(paths.workdir, result.artifacts.find((a) => isMp4(a.path)));
    } catch (err) {
      return fail(id, 'encode', { code: 'ENCODE_FAILED', message: (err as Error).message });
    }
  }
  const exit = partialReasons.length > 0 ? 'partial' : 'success';
  await runs.update(id, (m) => {
    if (encode) {
      endPhase(m, 'encode', 'completed', { placeholder: encode.placeholder, source: encode.source, fps: job.phases?.encode?.fps ?? null });
      m.artifacts.push({ path: 'final.mp4', bytes: encode.bytes, sha256: encode.sha256, phase: 'encode' });
    } else {
      endPhase(m, 'encode', 'skipped', { reason: 'disabled by the job' });
    }
    m.run_status = 'completed';
    m.exit_status = exit;
  });
  await event(id, encode ? 'phase.completed' : 'phase.skipped', { phase: 'encode', ...(encode ? { placeholder: encode.placeholder } : {}) });
  await event(id, 'run.completed', { exit_status: exit });
}
