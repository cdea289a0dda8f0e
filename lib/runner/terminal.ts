import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.ts';
import { errorFields } from '../logger.ts';
import type { Manifest } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';

/** Errors of the local disk or process (not of ComfyUI, not of the run's data): worth retrying. */
const LOCAL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EMFILE', 'ENFILE', 'EIO', 'EAGAIN', 'EBUSY', 'ENOMEM']);
export const isLocalIoError = (err: unknown) => LOCAL_CODES.has((err as NodeJS.ErrnoException)?.code ?? '');

export interface TerminalWriter {
  /**
   * Ends a run: its terminal event (once per run: a retry never appends a second one), then the
   * manifest write that ends it. A write that fails on the local disk (full, read-only, out of
   * descriptors) is retried with back-off (0.2 s doubling to 5 s) until it lands; the run stays
   * in flight meanwhile. Only `stop()` gives up: the run then stays `running` for recovery.
   */
  end(id: string, event: { type: 'run.failed' | 'run.completed'; fields: Record<string, unknown> }, record: (m: Manifest) => void): Promise<void>;
  stop(): void;
}

/** Test-only fault points (see `Faults` in lib/context.ts). */
export interface TerminalFaults {
  /** Called right after a run's terminal event landed, before its manifest write. */
  afterTerminalEvent?(id: string): void;
}

export function createTerminalWriter(runs: Pick<RunStore, 'appendEvent' | 'update'>, log: Logger, faults: TerminalFaults = {}): TerminalWriter {
  const stopping = new AbortController();
  const evented = new Set<string>(); // runs whose terminal event landed (in this process)

  async function land<T>(id: string, what: string, write: () => Promise<T>): Promise<T> {
    for (let attempt = 1, delay = 200; ; attempt++, delay = Math.min(delay * 2, 5000)) {
      try {
        const out = await write();
        if (attempt > 1) log.info('run end landed after retries', { run_id: id, what, attempts: attempt });
        return out;
      } catch (err) {
        if (!isLocalIoError(err) || stopping.signal.aborted) throw err;
        if (attempt === 1) log.error('run end could not be written; retrying until it lands', { run_id: id, what, ...errorFields(err) });
        await sleep(delay, undefined, { signal: stopping.signal });
      }
    }
  }

  return {
    async end(id, event, record) {
      if (!evented.has(id)) {
        await land(id, event.type, () => runs.appendEvent(id, event.type, event.fields));
        evented.add(id);
        faults.afterTerminalEvent?.(id);
      }
      await land(id, 'manifest.json', () => runs.update(id, record));
      evented.delete(id);
    },
    stop() {
      stopping.abort();
    },
  };
}
