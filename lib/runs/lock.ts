import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatRecord, isRunning, parseRecord, type ProcessRecord, recordOf } from '../proc.ts';

/**
 * One VIDAX per runs directory: `<runsDir>/.vidax.lock` holds the owner's pid and process start
 * time. It is created whole and atomically (written aside, then hard-linked into place, which
 * fails if it exists). A lock whose owner is gone (no such process, a zombie, or the pid reused
 * by a process that started later) is stale and taken over, so a crash never leaves it stuck.
 */
export const LOCK_NAME = '.vidax.lock';

export class RunsDirInUse extends Error {
  constructor(
    readonly runsDir: string,
    readonly pid: number,
  ) {
    super(`runs dir ${runsDir} is in use by pid ${pid}`);
    this.name = 'RunsDirInUse';
  }
}

export interface RunsDirLock {
  readonly path: string;
  /** Removes the lock if it is still ours. */
  release(): void;
}

const readOwner = (path: string): ProcessRecord | null | 'missing' => {
  try {
    return parseRecord(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
};

/**
 * Takes the lock of `runsDir` (creating the folder if needed) or throws RunsDirInUse naming the
 * live owner's pid. A refused caller writes nothing: the owner is checked before anything is
 * created.
 */
export function lockRunsDir(runsDir: string): RunsDirLock {
  const path = join(runsDir, LOCK_NAME);
  const me = formatRecord(recordOf());
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const seen = readOwner(path);
    if (seen !== 'missing') {
      if (seen !== null && isRunning(seen)) throw new RunsDirInUse(runsDir, seen.pid);
      // Stale: move it aside under a unique name, and only drop it if it is the one we judged.
      const aside = `${path}.stale.${process.pid}.${attempt}`;
      try {
        renameSync(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // someone else moved it
        throw err;
      }
      const moved = readOwner(aside);
      if (moved !== 'missing' && moved !== null && isRunning(moved)) {
        // A live owner took it over between our read and our rename: put it back.
        try {
          linkSync(aside, path);
        } catch {
          // another taker is already in place; the live owner's process still holds its own view
        }
        rmSync(aside, { force: true });
        throw new RunsDirInUse(runsDir, moved.pid);
      }
      rmSync(aside, { force: true });
    }
    mkdirSync(runsDir, { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, me);
    try {
      linkSync(temp, path); // atomic: fails with EEXIST if another process got there first
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      continue;
    } finally {
      rmSync(temp, { force: true });
    }
    let released = false;
    return {
      path,
      release() {
        if (released) return;
        released = true;
        try {
          if (readFileSync(path, 'utf8') === me) rmSync(path);
        } catch {
          // already gone
        }
      },
    };
  }
  throw new Error(`could not take the lock ${path}`);
}
