import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { sweepTempFiles, writeFileAtomic } from '../files/atomic-file.ts';
import { isRunId } from '../runs/run-id.ts';

export type DeliveryState = 'pending' | 'delivered' | 'failed';

/** One delivery of one event to a run's webhook: `<run>/webhooks/<id>.json`. */
export interface Delivery {
  id: string;
  run_id: string;
  seq: number;
  type: string;
  url: string;
  /** The exact body sent (and signed) on every attempt. */
  body: string;
  created_at: string;
  state: DeliveryState;
  attempts: number;
  /** HTTP status of the last attempt, or `timeout` / `network_error` / `blocked`. */
  last_status: number | string | null;
  last_error: string | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  failed_at: string | null;
}

/** What the manifest shows of a delivery. */
export const manifestEntry = (d: Delivery) => ({
  id: d.id,
  type: d.type,
  state: d.state,
  attempts: d.attempts,
  last_status: d.last_status,
  delivered_at: d.delivered_at,
  next_attempt_at: d.next_attempt_at,
  failed_at: d.failed_at,
});

const RECORD = /^msg_[0-9a-z_]+\.json$/;

/**
 * The durable outbox: each delivery is a file in its run's `webhooks/` folder, rewritten
 * atomically at every state change; `<runsDir>/.webhooks/<run_id>` marks runs whose webhook
 * work may be unfinished, so start-up finds them without scanning the runs directory.
 */
export interface Outbox {
  write(workdir: string, d: Delivery): Promise<void>;
  /** Every delivery recorded for a run (temp files a crash left are removed). */
  list(workdir: string): Promise<Delivery[]>;
  mark(runId: string): void;
  unmark(runId: string): void;
  marked(): Promise<string[]>;
}

export function createOutbox(runsDir: string): Outbox {
  const index = join(runsDir, '.webhooks');
  mkdirSync(index, { recursive: true });
  const made = new Set<string>();
  const folder = (workdir: string) => `${workdir}${sep}webhooks`;
  return {
    async write(workdir, d) {
      const dir = folder(workdir);
      if (!made.has(dir)) {
        mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      await writeFileAtomic(`${dir}${sep}${d.id}.json`, `${JSON.stringify(d)}\n`);
    },
    async list(workdir) {
      const dir = folder(workdir);
      await sweepTempFiles(dir);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return [];
      }
      const out: Delivery[] = [];
      for (const name of names.filter((n) => RECORD.test(n))) {
        try {
          out.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as Delivery);
        } catch {
          // written atomically: an unreadable record is not ours; the event log re-creates it
        }
      }
      return out.sort((a, b) => a.seq - b.seq);
    },
    // Synchronous like the run index: one metadata syscall, ordered before the caller's next step.
    mark(runId) {
      closeSync(openSync(`${index}${sep}${runId}`, 'w'));
    },
    unmark(runId) {
      rmSync(`${index}${sep}${runId}`, { force: true });
    },
    async marked() {
      return (await readdir(index)).filter(isRunId).sort();
    },
  };
}
