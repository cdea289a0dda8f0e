import { tempPathFor } from '../files/atomic-file.ts';
import { createHash } from 'node:crypto';
import { closeSync, fdatasync, mkdirSync, openSync, renameSync, rmSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { DownloadResult } from './types.ts';

/**
 * The first bytes of a download are written synchronously (page cache only, microseconds for an
 * image); past this, each chunk goes through libuv's pool so a large video never holds the loop
 * when the kernel throttles dirty pages.
 */
export const SYNC_DOWNLOAD_BYTES = 1024 * 1024;

const onPool = <T>(call: (done: (err: NodeJS.ErrnoException | null, out?: T) => void) => void) =>
  new Promise<T>((resolve, reject) => call((err, out) => (err ? reject(err) : resolve(out as T))));

/**
 * Streams `body` into `destPath` atomically: a temp file in the same folder, hashed and counted
 * while it is written (never buffered whole), fdatasynced, then renamed over the destination.
 * The folder, the temp file, the close and the rename are synchronous (metadata only): only the
 * fdatasync (and the writes of a large file) wait on the pool, behind other writes' fsyncs.
 */
export async function download(body: Readable, destPath: string): Promise<DownloadResult> {
  const temp = tempPathFor(destPath);
  const hash = createHash('sha256');
  let bytes = 0;
  let fd: number | null = null;
  try {
    mkdirSync(dirname(destPath), { recursive: true });
    fd = openSync(temp, 'wx', 0o644); // one descriptor from the first byte to the fsync
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      for (let off = 0; off < chunk.byteLength; ) {
        const at = fd;
        off += bytes + off < SYNC_DOWNLOAD_BYTES
          ? writeSync(at, chunk, off)
          : await onPool<number>((done) => write(at, chunk, off, chunk.byteLength - off, null, done));
      }
      bytes += chunk.byteLength;
    }
    const at = fd;
    await onPool<void>((done) => fdatasync(at, done));
    closeSync(fd);
    fd = null;
    renameSync(temp, destPath);
  } catch (err) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {}
    }
    rmSync(temp, { force: true });
    throw err;
  }
  return { path: destPath, bytes, sha256: hash.digest('hex') };
}
