import { appendFileSync, closeSync, copyFileSync, fstatSync, mkdirSync, openSync, readSync, statSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * ComfyUI's log: the managed process writes it itself through its own file descriptor (opened
 * for append), so it keeps logging after VIDAX exits. VIDAX caps it by copy-truncate: when the
 * file passes `maxBytes` it is copied to `<file>.1` (replacing an older one) and truncated; the
 * writer's appends continue at the new end. Checked every second while VIDAX watches the process.
 */
export function openLogForChild(path: string, maxBytes: number): { fd: number; offset: number } {
  mkdirSync(dirname(path), { recursive: true });
  rotateIfOver(path, maxBytes);
  const fd = openSync(path, 'a');
  return { fd, offset: fstatSync(fd).size };
}

/** Copy-truncate rotation; never throws (a full disk must not take VIDAX or ComfyUI down). */
export function rotateIfOver(path: string, maxBytes: number): boolean {
  try {
    if (statSync(path).size <= maxBytes) return false;
    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
    return true;
  } catch {
    return false;
  }
}

/** Appends one line of VIDAX's own (start and exit markers); never throws. */
export function appendLogLine(path: string, line: string): void {
  try {
    appendFileSync(path, `${line}\n`);
  } catch {
    // as above
  }
}

/**
 * The last `n` non-empty lines written to `path` since byte `from` (from 0 if the file was
 * truncated meanwhile), reading at most `maxBytes` from its end; ANSI colour tags removed.
 */
export function tailLines(path: string, from: number, n = 20, maxBytes = 8192): string[] {
  let text = '';
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(from > size ? 0 : from, size - maxBytes);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI escapes
  return text.replace(/\x1b\[[0-9;]*m/g, '').split(/\r?\n/).filter((l) => l.trim() !== '').slice(-n);
}
