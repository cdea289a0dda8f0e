import { closeSync, type FSWatcher, openSync, readFileSync, readSync, watch } from 'node:fs';
import { join } from 'node:path';

/** One line of a run's events.jsonl, stamped with performance.now() when the watcher saw it. */
export interface SeenLine {
  at: number;
  type: string;
  event: Record<string, unknown>;
  /** Found by the fallback poll instead of an inotify callback (its `at` is late by up to the poll period). */
  polled: boolean;
}

export interface RunWatch {
  /** performance.now() when manifest.json first said the run ended, with its status. */
  readonly ended: Promise<{ at: number; status: string; polled: boolean }>;
  readonly lines: SeenLine[];
  /** inotify events naming manifest.json: one per atomic rename, i.e. per durable manifest write. */
  readonly manifestWrites: () => number;
  close(): void;
}

const FINAL = new Set(['completed', 'failed']);

/**
 * Watches a run's workdir without asking VIDAX anything: inotify (fs.watch) on the folder for the
 * atomic rename of manifest.json, and on logs/events.jsonl for appended lines. A 20 ms poll of the
 * same files backs the watchers up (a detection it makes is flagged `polled`). Rejects after `timeoutMs`.
 */
export function watchRun(workdir: string, timeoutMs = 15_000): RunWatch {
  const manifestPath = join(workdir, 'manifest.json');
  const eventsPath = join(workdir, 'logs', 'events.jsonl');
  const lines: SeenLine[] = [];
  const watchers: FSWatcher[] = [];
  const fd = openSync(eventsPath, 'r');
  let offset = 0;
  let partial = '';
  let settle: ((v: { at: number; status: string; polled: boolean }) => void) | null = null;
  let fail: ((e: Error) => void) | null = null;
  const ended = new Promise<{ at: number; status: string; polled: boolean }>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  const buf = Buffer.alloc(64 * 1024);
  const readLines = (at: number, polled: boolean) => {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) break;
      offset += n;
      partial += buf.toString('utf8', 0, n);
    }
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) {
      if (!text.trim()) continue;
      const event = JSON.parse(text) as Record<string, unknown>;
      lines.push({ at, type: String(event.type), event, polled });
    }
  };
  const checkManifest = (at: number, polled: boolean) => {
    if (!settle) return;
    let status: string;
    try {
      status = String((JSON.parse(readFileSync(manifestPath, 'utf8')) as { run_status?: unknown }).run_status);
    } catch {
      return; // between unlink and rename on some filesystems: the next event reads it
    }
    if (FINAL.has(status)) {
      settle({ at, status, polled });
      settle = null;
    }
  };
  readLines(performance.now(), false); // lines already there (run.created): stamped before the caller's t0
  let manifestWrites = 0;
  watchers.push(watch(workdir, (kind, name) => {
    if (name !== 'manifest.json') return;
    if (kind === 'rename') manifestWrites++;
    checkManifest(performance.now(), false);
  }));
  watchers.push(watch(eventsPath, () => readLines(performance.now(), false)));
  const poll = setInterval(() => {
    const at = performance.now();
    readLines(at, true);
    checkManifest(at, true);
  }, 20);
  const timer = setTimeout(() => fail?.(new Error(`run in ${workdir} did not end within ${timeoutMs} ms`)), timeoutMs);
  let closed = false;
  return {
    ended,
    lines,
    manifestWrites: () => manifestWrites,
    close() {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      clearTimeout(timer);
      for (const w of watchers) w.close();
      readLines(performance.now(), true);
      closeSync(fd);
    },
  };
}
