import type { Manifest } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';
import { beginPhase } from './phases.ts';

/** Past this, a start still waiting for ComfyUI shows it (a healthy ComfyUI answers far sooner). */
export const WAIT_VISIBLE_MS = 100;

/** `outcome`'s value if it settles within `ms`, else `late` (the timer is cleared either way). */
export async function settledWithin<T>(outcome: Promise<T>, ms: number, late: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([outcome, new Promise<T>((resolve) => { timer = setTimeout(resolve, ms, late); })]);
  } finally {
    clearTimeout(timer);
  }
}

const backToQueued = (m: Manifest) => {
  if (m.run_status !== 'queued' || m.phases.prepare.status !== 'running') return;
  Object.assign(m.phases.prepare, { status: 'queued', started_at: null, finished_at: null, error: null });
  delete m.phases.prepare.waiting_for;
};

/**
 * Waits for `ready` (ComfyUI made healthy) on behalf of a start. When that takes longer than
 * `visibleMs`, the wait becomes visible: event `run.waiting_for_comfyui`, and the queued run's
 * `phases.prepare` turns `running` with `waiting_for: "comfyui"`; a failed wait puts it back to
 * `queued` (the run stays queued). `waiting` holds the run while it shows.
 */
export async function waitForComfyUI(
  deps: {
    runs: Pick<RunStore, 'update'>;
    event(id: string, type: string, fields?: Record<string, unknown>): Promise<unknown>;
    waiting: Set<string>;
  },
  id: string,
  ready: Promise<unknown>,
  visibleMs = WAIT_VISIBLE_MS,
): Promise<void> {
  const slow = await settledWithin(ready.then(() => false, () => false), visibleMs, true);
  if (!slow) return void (await ready);
  deps.waiting.add(id);
  try {
    void deps.event(id, 'run.waiting_for_comfyui', {});
    await deps.runs.update(id, (m) => {
      if (m.run_status === 'queued') beginPhase(m, 'prepare', { waiting_for: 'comfyui' });
    });
    await ready.catch(async (err) => {
      await deps.runs.update(id, backToQueued).catch(() => {});
      throw err;
    });
  } finally {
    deps.waiting.delete(id);
  }
}

/** At shutdown: a start still waiting leaves its run as it was (queued, prepare queued). */
export const unshowWait = (runs: Pick<RunStore, 'update'>, id: string) => runs.update(id, backToQueued);
