import { type RunError, runError } from '../errors.ts';
import type { Job } from '../jobs/schema.ts';
import type { Manifest, PhaseName } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';
import { cancelledError, isCancelled } from './cancel.ts';
import type { ComfyUIPhaseResult } from './comfyui-phase.ts';
import { isMp4, writeFinal } from './encode.ts';
import { beginPhase, endPhase } from './phases.ts';
import type { TerminalWriter } from './terminal.ts';

/**
 * A finished prompt's progress: the last one seen, at its max (ComfyUI sends no last step of a
 * prompt that ended while VIDAX was down, or past the throttle); null if none was seen.
 */
function finalProgress(last: unknown): unknown {
  const p = last as { max?: unknown } | null;
  return p && typeof p === 'object' && typeof p.max === 'number' ? { ...p, value: p.max } : (last ?? null);
}

/** What the steps after ComfyUI need: the store, the event log, and how to fail the run. */
export interface RunSteps {
  runs: Pick<RunStore, 'update' | 'paths'>;
  event(id: string, type: string, fields?: Record<string, unknown>): Promise<unknown>;
  fail(id: string, phase: PhaseName, error: RunError): Promise<void>;
  /** Ends the run: its terminal event once, then the manifest write, retried until they land. */
  end: TerminalWriter['end'];
  /** The run's signal: aborted with CANCEL_REASON by a cancel (media phases stop on it too). */
  signal?: AbortSignal;
}

/**
 * After the comfyui phase: records its outcome, skips stabilize and lipsync (not available in
 * stage 1; requested ones make the run `partial`), writes final.mp4 and ends the run.
 */
export async function finishRun(steps: RunSteps, id: string, job: Job, result: ComfyUIPhaseResult): Promise<void> {
  const { runs, event, fail } = steps;
  if (!result.ok) {
    if (result.stopped) return; // VIDAX is stopping: the next start recovers this run
    return fail(id, 'comfyui', result.error);
  }
  const requested = (name: 'stabilize' | 'lipsync') => job.phases?.[name]?.enabled === true;
  const partial = requested('stabilize') || requested('lipsync');
  const encodeWanted = job.phases?.encode?.enabled !== false;
  // The comfyui phase's outcome and the skipped phases land with the next manifest write.
  const recordComfyUI = (m: Manifest) => {
    endPhase(m, 'comfyui', 'completed', { outputs: result.files, queue_position: null, progress: finalProgress(m.phases.comfyui.progress) });
    m.artifacts = [...m.artifacts.filter((a) => a.phase !== 'comfyui'), ...result.artifacts];
    for (const name of ['stabilize', 'lipsync'] as const) {
      endPhase(m, name, 'skipped', requested(name)
        ? { requested: true, reason: `${name} is not available in stage 1` }
        : { requested: false, reason: 'not requested by the job' });
    }
  };
  void event(id, 'phase.completed', { phase: 'comfyui', outputs: result.files });
  for (const name of ['stabilize', 'lipsync'] as const) void event(id, 'phase.skipped', { phase: name, requested: requested(name) });
  // The run's last events land before its final manifest write (a reader of `completed` finds them).
  if (encodeWanted && isCancelled(steps.signal)) {
    // Cancelled once ComfyUI was done: its outputs stay recorded, encode is the phase cut.
    await runs.update(id, (m) => recordComfyUI(m));
    return fail(id, 'encode', cancelledError('encode'));
  }
  let recordEncode: (m: Manifest) => void;
  if (encodeWanted) {
    void event(id, 'phase.started', { phase: 'encode' });
    const startedAt = new Date().toISOString();
    let done: Awaited<ReturnType<typeof writeFinal>>;
    try {
      done = await writeFinal(runs.paths(id).workdir, result.artifacts.find((a) => isMp4(a.path)));
    } catch (err) {
      await runs.update(id, (m) => {
        recordComfyUI(m);
        m.phases.encode.started_at = startedAt;
      });
      return fail(id, 'encode', isCancelled(steps.signal) ? cancelledError('encode') : runError('ENCODE_FAILED', (err as Error).message));
    }
    void event(id, 'phase.completed', { phase: 'encode', placeholder: done.placeholder });
    recordEncode = (m) => {
      beginPhase(m, 'encode');
      m.phases.encode.started_at = startedAt;
      endPhase(m, 'encode', 'completed', { placeholder: done.placeholder, source: done.source, fps: job.phases?.encode?.fps ?? null });
      m.artifacts.push({ path: 'final.mp4', bytes: done.bytes, sha256: done.sha256, phase: 'encode' });
    };
  } else {
    void event(id, 'phase.skipped', { phase: 'encode' });
    recordEncode = (m) => endPhase(m, 'encode', 'skipped', { reason: 'disabled by the job' });
  }
  return completeRun(steps, id, partial ? 'partial' : 'success', (m) => {
    recordComfyUI(m);
    recordEncode(m);
  });
}

/**
 * The one way a run completes: its last event first (a reader of `completed` finds it), then one
 * manifest write with what the last phases recorded and the end of the run.
 */
export async function completeRun(
  steps: Pick<RunSteps, 'end'>,
  id: string,
  exit: 'success' | 'partial',
  record: (m: Manifest) => void,
): Promise<void> {
  await steps.end(id, { type: 'run.completed', fields: { exit_status: exit } }, (m) => {
    record(m);
    m.run_status = 'completed';
    m.exit_status = exit;
  });
}
