import { errorFields, type Logger } from '../logger.ts';
import type { RunStore } from '../runs/store.ts';

/**
 * Coalesces manifest patches of a run's comfyui phase (progress, queue position): one durable
 * write in flight at a time, the latest fields win, `drain` waits for the last one. With
 * `quietMs`, patches in the patcher's first `quietMs` are written only once that time is over: a
 * prompt that ends sooner has them `take`n into the run's next manifest write instead of a write
 * of their own (later patches are written at once, as before).
 */
export function createPhasePatcher(runs: Pick<RunStore, 'update'>, id: string, log: Logger, quietMs = 0) {
  const quietUntil = Date.now() + quietMs;
  let pending: Record<string, unknown> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<unknown> = Promise.resolve();
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    writing = writing.then(() => {
      const p = pending;
      pending = null;
      if (p === null) return;
      return runs
        .update(id, (m) => {
          Object.assign(m.phases.comfyui, p);
        })
        .catch((err) => log.error('progress write failed', { run_id: id, ...errorFields(err) }));
    });
  };
  const patch = (fields: Record<string, unknown>) => {
    const first = pending === null;
    pending = { ...pending, ...fields };
    if (!first) return;
    const wait = quietUntil - Date.now();
    if (wait > 0) timer = setTimeout(flush, wait);
    else flush();
  };
  return {
    patch,
    /** The fields of a write still waiting for the quiet time to end, cancelled (null if none): the caller writes them. */
    take(): Record<string, unknown> | null {
      if (!timer) return null;
      clearTimeout(timer);
      timer = null;
      const p = pending;
      pending = null;
      return p;
    },
    drain: () => {
      if (timer) flush();
      return writing;
    },
  };
}
