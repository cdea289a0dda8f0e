import { readFileSync } from 'node:fs';

/** A process as recorded in a pid file: its pid and (on Linux) its start time, against pid reuse. */
export interface ProcessRecord {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22), or null where unknown. */
  start: number | null;
}

/** Start time of `pid` and whether it is a zombie, from /proc (null off Linux or if gone). */
function procStat(pid: number): { start: number; zombie: boolean } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
    return { start: Number(fields[19]), zombie: fields[0] === 'Z' || fields[0] === 'X' };
  } catch {
    return null;
  }
}

/** The record of a running process (this one by default). */
export function recordOf(pid = process.pid): ProcessRecord {
  return { pid, start: procStat(pid)?.start ?? null };
}

/** `pid\nstart\n`: the pid file format (a reader of the first line alone still gets the pid). */
export const formatRecord = (r: ProcessRecord) => `${r.pid}\n${r.start ?? ''}\n`;

export function parseRecord(text: string): ProcessRecord | null {
  const [pidLine = '', startLine = ''] = text.split('\n');
  const pid = Number(pidLine.trim());
  if (!/^\d+$/.test(pidLine.trim()) || pid <= 0) return null;
  const start = startLine.trim();
  return { pid, start: /^\d+$/.test(start) ? Number(start) : null };
}

/**
 * Whether the process of `r` still runs: it exists, is not a zombie, and (where /proc tells) it
 * started when the record says, so a pid reused by a later process does not count.
 */
export function isRunning(r: ProcessRecord): boolean {
  try {
    process.kill(r.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(r.pid);
  if (stat === null) return process.platform !== 'linux'; // on Linux no /proc entry means gone
  if (stat.zombie) return false;
  return r.start === null || stat.start === r.start;
}

/** The record in `file` if its process still runs, else null. */
export function readLiveRecord(file: string): ProcessRecord | null {
  try {
    const r = parseRecord(readFileSync(file, 'utf8'));
    return r && isRunning(r) ? r : null;
  } catch {
    return null;
  }
}
