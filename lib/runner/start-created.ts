import { ERRORS, type ErrorCode, VidaxError, vidaxError } from '../errors.ts';
import type { RunStore } from '../runs/store.ts';
import { runSummary, type RunSummary } from '../runs/summary.ts';
import type { CreateStart, Runner } from './runner.ts';
import { finishedWithin } from './wait.ts';

/**
 * `"start": true` on POST /jobs: starts the run just created, in the same request, as
 * POST /jobs/:id/start would (its errors too: a ComfyUI that cannot be made healthy is a 500 and
 * the run stays queued; the error then carries `Location` so the client can find the run), then
 * waits for its end when the client asked (`Prefer: wait=`).
 */
export async function startCreated(
  deps: { runner: Pick<Runner, 'start' | 'waitFor'>; runs: Pick<RunStore, 'get' | 'paths'> },
  id: string,
  wait: number | null,
  signal?: AbortSignal,
  /** Claimed with the create (`Runner.startAtCreate`): launched here, no second claim. */
  claimed?: CreateStart | null,
): Promise<{ ended: RunSummary | null }> {
  try {
    if (claimed) claimed.launch(id);
    else await deps.runner.start(id);
  } catch (err) {
    if (!(err instanceof VidaxError) || !(err.code in ERRORS)) throw err;
    throw vidaxError(err.code as ErrorCode, `the run ${id} was created and stays queued, but it could not start: ${err.message}`, {
      details: err.details,
      headers: { ...err.headers, location: `/jobs/${id}` },
      cause: err,
    });
  }
  const ended = await finishedWithin(deps, id, wait, signal);
  return { ended: ended ? runSummary(ended, deps.runs.paths(id).manifest) : null };
}
