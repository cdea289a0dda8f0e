import { errorFields, type Logger } from '../logger.ts';
import type { RunStore } from '../runs/store.ts';

/**
 * Coalesces manifest patches of a run's comfyui phase (progress, queue position): one durable
 * write in flight at a time, the latest fields win, `drain` waits for the last one.
 */
export function createPhasePatcher(runs: Pick<RunStore, 'update'>, id: string, log: Logger) {
  let pending: Record<string, unknown> | null = null;
  let writing: Promise<unknown> = Promise.resolve();
  const patch = (fields: Record<string, unknown>) => {
    const first = pending === null;
    pending = { ...pending, ...fields };
    if (!first) return;
    writing = writing.then(() => {
      const p = pending ?? {};
      pending = null;
      return runs
        .update(id, (m) => {
          Object.assign(m.phases.comfyui, p);
        })
        .catch((err) => log.error('progress write failed', { run_id: id, ...errorFields(err) }));
    });
  };
  return { patch, drain: () => writing };
}
