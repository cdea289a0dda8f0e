import { closeSync, write as fsWrite, mkdirSync, writeSync } from 'node:fs';
import { openRegular, openRegularSync, readRegularFile } from '../files/safe-open.ts';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { Lru } from './lru.ts';

/** One line of `logs/events.jsonl`. */
export interface RunEvent {
  ts: string;
  seq: number;
  type: string;
  [field: string]: unknown;
}

interface Tail {
  seq: number;
  /** The file ends in a torn line: the next append starts with a newline. */
  torn: boolean;
}

const TAIL_WINDOW = 64 * 1024;

/** Last `seq` in the file and whether its last line is torn; 0 for a missing or empty file. */
export async function readTail(path: string): Promise<Tail> {
  let fh: FileHandle;
  try {
    fh = await openRegular(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { seq: 0, torn: false };
    throw err;
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return { seq: 0, torn: false };
    let torn = false;
    for (let window = TAIL_WINDOW; ; window *= 4) {
      const length = Math.min(window, size);
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, size - length);
      if (window === TAIL_WINDOW) torn = buf[length - 1] !== 0x0a;
      const lines = buf.toString('utf8').split('\n');
      for (let i = lines.length - 1; i >= 0; i -= 1) {
        const seq = seqOf(lines[i] ?? '');
        if (seq !== null) return { seq, torn };
      }
      if (length === size) return { seq: 0, torn };
    }
  } finally {
    await fh.close();
  }
}

function seqOf(line: string): number | null {
  if (!line.startsWith('{')) return null;
  try {
    const seq = (JSON.parse(line) as { seq?: unknown }).seq;
    return typeof seq === 'number' && Number.isInteger(seq) ? seq : null;
  } catch {
    return null;
  }
}

/** Parses an events file, skipping lines that do not parse (a torn last line after a crash). */
export async function readEvents(path: string): Promise<RunEvent[]> {
  const text = await readRegularFile(path);
  const events: RunEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as RunEvent);
    } catch {
      // torn line: a crash mid-append; the rest of the file is intact
    }
  }
  return events;
}

export interface EventLog {
  /**
   * Appends `{ts, seq, type, ...fields}` as one line; serialized per key. Appends that arrive
   * while one is being written are written together next, in one O_APPEND write (each keeps its
   * own seq and resolves once its line is in the file).
   */
  append(key: string, path: string, type: string, fields?: Record<string, unknown>): Promise<RunEvent>;
  /** Tells the log that `key`'s file is new and empty (skips the tail read). */
  fresh(key: string): void;
  /** Resolves when every pending append has settled. */
  drain(): Promise<void>;
}

interface Pending {
  type: string;
  fields: Record<string, unknown>;
  resolve(event: RunEvent): void;
  reject(err: unknown): void;
}

/**
 * Batches up to this many characters are written synchronously: no fsync, so the write only
 * touches the page cache and never waits for the disk, where on the libuv pool (4 threads) it
 * would be a hop queued behind others' fsyncs. Larger batches are written on the pool.
 */
const SYNC_APPEND_MAX = 64 * 1024;

const writeOnPool = promisify(fsWrite) as (fd: number, text: string) => Promise<unknown>;

/**
 * Opens `path` to append (see `openRegular`: no symlink, only a regular file), synchronously: an
 * open is metadata only. Its `logs/` folder gone (an operator's cleanup, a crash part way through
 * removing a run) is made again, only that folder: a run dir that is gone stays gone (ENOENT).
 */
function openForAppend(path: string): number {
  try {
    return openRegularSync(path, 'a');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    try {
      mkdirSync(dirname(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return openRegularSync(path, 'a');
  }
}

/** Appends `text` in one O_APPEND write. */
async function appendText(path: string, text: string): Promise<void> {
  const fd = openForAppend(path);
  try {
    if (text.length <= SYNC_APPEND_MAX) writeSync(fd, text);
    else await writeOnPool(fd, text);
  } finally {
    closeSync(fd);
  }
}

export function createEventLog({ cacheSize = 1000 }: { cacheSize?: number } = {}): EventLog {
  const tails = new Lru<string, Tail>(cacheSize);
  /** Per key: appends waiting for the write in flight, and that write's end. */
  const queues = new Map<string, { path: string; waiting: Pending[]; done: Promise<void> }>();

  /** Writes one batch as one append; every line of it lands, or every append of it rejects. */
  async function write(key: string, path: string, batch: Pending[]): Promise<void> {
    let events: RunEvent[];
    try {
      const tail = tails.get(key) ?? (await readTail(path));
      const ts = new Date().toISOString();
      events = batch.map(({ type, fields }, i) => {
        const { ts: _ts, seq: _seq, type: _type, ...rest } = fields;
        return { ts, seq: tail.seq + 1 + i, type, ...rest };
      });
      const text = `${tail.torn ? '\n' : ''}${events.map((e) => `${JSON.stringify(e)}\n`).join('')}`;
      tails.delete(key); // if the write fails, the next append re-reads the file
      await appendText(path, text);
      tails.set(key, { seq: tail.seq + batch.length, torn: false });
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (const [i, p] of batch.entries()) p.resolve(events[i] as RunEvent);
  }

  async function pump(key: string): Promise<void> {
    for (let q = queues.get(key); q && q.waiting.length > 0; q = queues.get(key)) {
      await write(key, q.path, q.waiting.splice(0));
    }
    queues.delete(key);
  }

  function append(key: string, path: string, type: string, fields: Record<string, unknown> = {}): Promise<RunEvent> {
    return new Promise<RunEvent>((resolve, reject) => {
      const queued = queues.get(key);
      const item = { type, fields, resolve, reject };
      if (queued && queued.path === path) {
        queued.waiting.push(item);
        return;
      }
      if (queued) {
        // Another file under the same key (never in VIDAX): after the current one.
        void queued.done.then(() => append(key, path, type, fields).then(resolve, reject));
        return;
      }
      const q = { path, waiting: [item], done: Promise.resolve() };
      queues.set(key, q);
      q.done = pump(key);
    });
  }

  return {
    append,
    fresh(key) {
      tails.set(key, { seq: 0, torn: false });
    },
    async drain() {
      while (queues.size > 0) await Promise.all([...queues.values()].map((q) => q.done));
    },
  };
}
