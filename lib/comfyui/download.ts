import { datasync, tempPathFor } from '../files/atomic-file.ts';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { DownloadResult } from './types.ts';

/**
 * The first bytes of a download are written synchronously (page cache only, microseconds for an
 * image); past this, each chunk goes through libuv's pool so a large video never holds the loop
 * when the kernel throttles dirty pages.
 */
export const SYNC_DOWNLOAD_BYTES = 1024 * 1024;

const writeOnPool = (fd: number, chunk: Buffer, off: number) =>
  new Promise<number>((resolve, reject) => write(fd, chunk, off, chunk.byteLength - off, null, (err, n) => (err ? reject(err) : resolve(n))));

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
        off += bytes + off < SYNC_DOWNLOAD_BYTES ? writeSync(fd, chunk, off) : await writeOnPool(fd, chunk, off);
      }
      bytes += chunk.byteLength;
    }
    await datasync(fd);
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
