import { syncAndRename, tempPathFor } from '../files/atomic-file.ts';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DownloadResult } from './types.ts';

/**
 * Streams `body` into `destPath` atomically: a temp file in the same folder, hashed and counted
 * while it is written (never buffered whole), fsynced, then renamed over the destination.
 */
export async function download(body: Readable, destPath: string): Promise<DownloadResult> {
  const dir = dirname(destPath);
  await mkdir(dir, { recursive: true });
  const temp = tempPathFor(destPath);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          bytes += chunk.byteLength;
          yield chunk;
        }
      },
      createWriteStream(temp, { flags: 'wx' }),
    );
    await syncAndRename(temp, destPath);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return { path: destPath, bytes, sha256: hash.digest('hex') };
}
