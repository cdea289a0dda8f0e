import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

interface Owner {
  pid: number;
  /** Process start time in clock ticks since boot (Linux /proc), or null where unknown. */
  start: number | null;
}

/** Start time of `pid` and whether it is a zombie, from /proc (null off Linux or if gone). */
function procStat(pid: number): { start: number; zombie: boolean } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
    return { start: Number(fields[19]), zombie: fields[0] === 'Z' || fields[0] === 'X' };
  } catch {
    return null;
  }
}

/** Whether the process that wrote `owner` still runs. */
export function ownerAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(owner.pid);
  if (stat === null) return true; // no /proc: trust the signal check
  if (stat.zombie) return false;
  return owner.start === null || stat.start === owner.start;
}

function parse(text: string): Owner | null {
  const [pidLine = '', startLine = ''] = text.split('\n');
  const pid = Number(pidLine.trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const start = Number(startLine.trim());
  return { pid, start: startLine.trim() !== '' && Number.isFinite(start) ? start : null };
}

const readOwner = (path: string): Owner | null | 'missing' => {
  try {
    return parse(readFileSync(path, 'utf8'));
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
  const me = `${process.pid}\n${procStat(process.pid)?.start ?? ''}\n`;
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const seen = readOwner(path);
    if (seen !== 'missing') {
      if (seen !== null && ownerAlive(seen)) throw new RunsDirInUse(runsDir, seen.pid);
      // Stale: move it aside under a unique name, and only drop it if it is the one we judged.
      const aside = `${path}.stale.${process.pid}.${attempt}`;
      try {
        renameSync(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // someone else moved it
        throw err;
      }
      const moved = readOwner(aside);
      if (moved !== 'missing' && moved !== null && ownerAlive(moved)) {
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
