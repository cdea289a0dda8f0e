/**
 * Cancelling a run (POST /jobs/:id/cancel). A queued run fails `CANCELLED` at once, in one
 * durable manifest write. A running run first gets `cancel_requested_at` in its manifest (so a
 * crash right after the 202 is honoured by recovery), then the runner aborts its AbortSignal:
 * the phase running stops (its ComfyUI prompt is interrupted by id or removed from the queue,
 * a media phase's child process is killed) and the run fails `CANCELLED` in the phase cut.
 */
import { type RunError, runError, vidaxError } from '../errors.ts';
import { isTerminal, type Manifest, PHASES, type PhaseName } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';
import { endPhase } from './phases.ts';

/** The abort reason of a cancelled run's signal (awaitPrompt returns it as its outcome). */
export const CANCEL_REASON = Object.freeze({ kind: 'cancelled' as const });

export const isCancelled = (signal: AbortSignal | undefined) =>
  signal?.aborted === true && (signal.reason as { kind?: string } | undefined)?.kind === 'cancelled';

export const cancelledError = (phase: PhaseName | null): RunError =>
  runError(
    'CANCELLED',
    phase ? `cancelled by a client request while the ${phase} phase ran` : 'cancelled by a client request before it started',
    { phase },
  );

/** The phase a cancel cuts: the one running, else the first one not yet finished. */
export function cutPhase(m: Manifest): PhaseName {
  return (
    PHASES.find((p) => m.phases[p].status === 'running') ??
    PHASES.find((p) => m.phases[p].status === 'queued') ??
    'encode'
  );
}

export type CancelOutcome = { status: 200 | 202; manifest: Manifest };

export interface CancelDeps {
  runs: Pick<RunStore, 'get' | 'update'>;
  event(id: string, type: string, fields?: Record<string, unknown>): Promise<unknown>;
  /** Aborts the run's signal if it is in flight here; remembers the request for a launch to come. */
  abort(id: string): void;
}

const runFinished = (id: string, status: string) =>
  vidaxError('run_finished', `run ${id} already ${status}; only a queued or running run can be cancelled`);

class Changed extends Error {}

export async function cancelRun(deps: CancelDeps, id: string): Promise<CancelOutcome> {
  const { runs, event } = deps;
  for (let attempt = 0; attempt < 3; attempt++) {
    const m = await runs.get(id);
    if (isTerminal(m.run_status)) {
      if (m.error?.code === 'CANCELLED') return { status: 200, manifest: m };
      throw runFinished(id, m.run_status);
    }
    try {
      if (m.run_status === 'queued') {
        // One durable write; the events land first (inside the serialized update) so a watcher
        // of the log sees `run.failed` no later than a reader of the manifest sees `failed`.
        const done = await runs.update(id, async (cur) => {
          if (cur.run_status !== 'queued') throw new Changed();
          await event(id, 'run.cancel_requested');
          await event(id, 'run.failed', { code: 'CANCELLED' });
          for (const p of PHASES) endPhase(cur, p, 'skipped', { reason: 'the run was cancelled before it started' });
          cur.cancel_requested_at = new Date().toISOString();
          cur.run_status = 'failed';
          cur.exit_status = 'failed';
          cur.error = cancelledError(null);
        });
        return { status: 200, manifest: done };
      }
      // Running: record the request durably before anything else, then stop the run.
      let current = m;
      if (!m.cancel_requested_at) {
        current = await runs.update(id, async (cur) => {
          if (cur.run_status !== 'running') throw new Changed();
          if (cur.cancel_requested_at) return;
          cur.cancel_requested_at = new Date().toISOString();
          await event(id, 'run.cancel_requested', { phase: cutPhase(cur) });
        });
      }
      deps.abort(id);
      return { status: 202, manifest: current };
    } catch (err) {
      if (!(err instanceof Changed)) throw err;
      // The run moved on between the read and the write (started, or finished): look again.
    }
  }
  throw vidaxError('cancel_conflict', `run ${id} changed state while it was being cancelled; try again`);
}
