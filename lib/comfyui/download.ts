import { tempPathFor } from '../files/atomic-file.ts';
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { DownloadResult } from './types.ts';

/**
 * Streams `body` into `destPath` atomically: a temp file in the same folder, hashed and counted
 * while it is written (never buffered whole), fdatasynced, then renamed over the destination.
 */
export async function download(body: Readable, destPath: string): Promise<DownloadResult> {
  const dir = dirname(destPath);
  await mkdir(dir, { recursive: true });
  const temp = tempPathFor(destPath);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    // One descriptor from the first byte to the fsync (no reopen to sync).
    const fh = await open(temp, 'wx', 0o644);
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        for (let off = 0; off < chunk.byteLength; ) off += (await fh.write(chunk, off)).bytesWritten;
      }
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(temp, destPath);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return { path: destPath, bytes, sha256: hash.digest('hex') };
}
