import type { RunError } from '../errors.ts';
/** The job without its workflow: what the steps after the comfyui phase read. */
import type { JobSummary as Job } from '../jobs/job-parser.ts';
import type { Manifest, PhaseName } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';
import type { ComfyUIPhaseResult } from './comfyui-phase.ts';
import { type MediaSteps, runMediaPhases } from './media-phases.ts';

export { completeRun } from './media-phases.ts';
import { endPhase } from './phases.ts';

/**
 * A finished prompt's progress: the last one seen, at its max (ComfyUI sends no last step of a
 * prompt that ended while VIDAX was down, or past the throttle); null if none was seen.
 */
function finalProgress(last: unknown): unknown {
  const p = last as { max?: unknown } | null;
  return p && typeof p === 'object' && typeof p.max === 'number' ? { ...p, value: p.max } : (last ?? null);
}

/** What the steps after ComfyUI need: the store, the event log, how to fail the run, the media phases. */
export interface RunSteps extends MediaSteps {
  runs: Pick<RunStore, 'update' | 'paths' | 'get'>;
  event(id: string, type: string, fields?: Record<string, unknown>): Promise<unknown>;
  fail(id: string, phase: PhaseName, error: RunError): Promise<void>;
}

/**
 * After the comfyui phase: records its outcome (with the next manifest write), then the media
 * phases (stabilize, lipsync, encode) and the end of the run.
 */
export async function finishRun(
  steps: RunSteps,
  id: string,
  job: Job,
  result: ComfyUIPhaseResult,
  signal: AbortSignal,
  /** Phase fields not written yet (the patcher's last, taken): applied first. */
  late: Record<string, unknown> | null = null,
): Promise<void> {
  if (!result.ok) {
    if (result.stopped) return; // VIDAX is stopping: the next start recovers this run
    return steps.fail(id, 'comfyui', result.error);
  }
  const recordComfy = (m: Manifest) => {
    if (late) Object.assign(m.phases.comfyui, late);
    endPhase(m, 'comfyui', 'completed', { outputs: result.files, queue_position: null, progress: finalProgress(m.phases.comfyui.progress) });
    m.artifacts = [...m.artifacts.filter((a) => a.phase !== 'comfyui'), ...result.artifacts];
  };
  void steps.event(id, 'phase.completed', { phase: 'comfyui', outputs: result.files });
  return runMediaPhases(steps, id, job, signal, [recordComfy]);
}
