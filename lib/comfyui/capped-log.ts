import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * An append-only log file capped at `maxBytes`: when a write would pass the cap, the file is
 * rotated to `<file>.1` (replacing an older one) and a fresh file is started, so the log never
 * takes more than twice the cap on disk. Writes are synchronous, so lines keep their order.
 */
export interface CappedLog {
  write(chunk: string | Uint8Array): void;
  close(): void;
}

export function openCappedLog(path: string, maxBytes: number): CappedLog {
  mkdirSync(dirname(path), { recursive: true });
  let fd: number | null = openSync(path, 'a');
  let size = fstatSync(fd).size;

  const rotate = () => {
    if (fd !== null) closeSync(fd);
    renameSync(path, `${path}.1`);
    fd = openSync(path, 'a');
    size = 0;
  };

  return {
    write(chunk) {
      if (fd === null) return;
      let buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (buf.byteLength > maxBytes) buf = buf.subarray(buf.byteLength - maxBytes);
      try {
        if (size > 0 && size + buf.byteLength > maxBytes) rotate();
        if (fd === null) return;
        writeSync(fd, buf);
        size += buf.byteLength;
      } catch {
        // A full disk or a removed folder must not take VIDAX (or ComfyUI) down; the tail
        // kept in memory still feeds error details.
      }
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** Keeps the last lines of a process's output (ANSI colour tags removed) for error details. */
export function createTail(maxChars = 8192) {
  let text = '';
  return {
    push(chunk: string | Uint8Array) {
      text = (text + (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))).slice(-maxChars);
    },
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI escapes
    lines: (n = 20) => text.replace(/\x1b\[[0-9;]*m/g, '').split(/\r?\n/).filter((l) => l.trim() !== '').slice(-n),
  };
}
