import { isTerminal, type Manifest } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';
import type { Runner } from './runner.ts';

/**
 * `Prefer: wait=<s>` after a start: holds the answer until the run ends, at most `waitS`
 * seconds (or until the client goes away). The final manifest when the run ended in time, else null.
 */
export async function finishedWithin(
  deps: { runner: Pick<Runner, 'waitFor'>; runs: Pick<RunStore, 'get'> },
  id: string,
  waitS: number | null,
  signal?: AbortSignal,
): Promise<Manifest | null> {
  if (!waitS) return null;
  await deps.runner.waitFor(id, waitS * 1000, signal);
  const m = await deps.runs.get(id);
  return isTerminal(m.run_status) ? m : null;
}
