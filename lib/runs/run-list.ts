/**
 * The index of every run for GET /jobs: ids sorted by creation (run ids sort by time), one sorted
 * array per status, in memory. It is rebuilt at start-up from `<runsDir>/.runs-index`, a journal
 * of `<run_id> <status letter>` lines the store appends at each create and status change (one
 * small synchronous append, no fsync: the manifests stay the truth, and start-up reconciles the
 * journal with the `.active` markers). A listing never touches the runs directory.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RunStatus } from './manifest.ts';
import { isRunId } from './run-id.ts';

const LETTER: Record<RunStatus, string> = { queued: 'q', running: 'r', completed: 'c', failed: 'f' };
const STATUS: Record<string, RunStatus> = { q: 'queued', r: 'running', c: 'completed', f: 'failed' };
export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed'] as const satisfies readonly RunStatus[];

/** First index whose id is >= `id`. */
function lowerBound(arr: string[], id: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((arr[mid] as string) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insert(arr: string[], id: string): void {
  if (arr.length === 0 || (arr[arr.length - 1] as string) < id) arr.push(id); // the usual case: the newest run
  else arr.splice(lowerBound(arr, id), 0, id);
}

function remove(arr: string[], id: string): void {
  const i = lowerBound(arr, id);
  if (arr[i] === id) arr.splice(i, 1);
}

export interface RunList {
  /** Records a run's status (a new run, or a change). */
  set(id: string, status: RunStatus): void;
  /** Forgets a run (its directory is gone). */
  delete(id: string): void;
  status(id: string): RunStatus | undefined;
  /** Ids newest first, older than `before` (exclusive), of `status` if given; `more` if older ones remain. */
  page(opts: { status?: RunStatus | undefined; before?: string | undefined; limit: number }): { ids: string[]; more: boolean };
  /** Runs not finished according to the index (start-up reconciliation). */
  unfinished(): string[];
  size(): number;
  close(): void;
}

/**
 * Loads the journal (or, the first time, builds it once from the run directories' manifests)
 * and compacts it when it has grown past twice the runs it names.
 */
export function openRunList(runsDir: string, readStatus: (id: string) => RunStatus | null): RunList {
  const file = join(runsDir, '.runs-index');
  const statuses = new Map<string, RunStatus>();
  const all: string[] = [];
  const byStatus: Record<RunStatus, string[]> = { queued: [], running: [], completed: [], failed: [] };

  const apply = (id: string, status: RunStatus) => {
    const prev = statuses.get(id);
    if (prev === status) return false;
    if (prev === undefined) insert(all, id);
    else remove(byStatus[prev], id);
    insert(byStatus[status], id);
    statuses.set(id, status);
    return true;
  };

  let lines = 0;
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const id = line.slice(0, -2);
      const status = STATUS[line.slice(-1)];
      if (status && line[line.length - 2] === ' ' && isRunId(id)) {
        apply(id, status);
        lines++;
      }
    }
  } else {
    // First start over this runs dir (or one from before the index): one scan, then never again.
    for (const name of readdirSync(runsDir)) {
      if (!isRunId(name)) continue;
      const status = readStatus(name);
      if (status) apply(name, status);
    }
    lines = Number.POSITIVE_INFINITY;
  }
  if (lines > 2 * statuses.size + 1000) {
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    writeSync(fd, all.map((id) => `${id} ${LETTER[statuses.get(id) as RunStatus]}\n`).join(''));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  }
  let fd: number | null = openSync(file, 'a');

  return {
    set(id, status) {
      if (apply(id, status) && fd !== null) writeSync(fd, `${id} ${LETTER[status]}\n`);
    },
    delete(id) {
      const prev = statuses.get(id);
      if (prev === undefined) return;
      remove(all, id);
      remove(byStatus[prev], id);
      statuses.delete(id);
      // The journal keeps its last line for it: a later start finds no directory and drops it again.
    },
    status: (id) => statuses.get(id),
    page({ status, before, limit }) {
      const arr = status ? byStatus[status] : all;
      const hi = before === undefined ? arr.length : lowerBound(arr, before);
      const lo = Math.max(0, hi - limit);
      return { ids: arr.slice(lo, hi).reverse(), more: lo > 0 };
    },
    unfinished: () => [...byStatus.queued, ...byStatus.running],
    size: () => statuses.size,
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

