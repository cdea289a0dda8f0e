import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { limitExceeded } from '../errors.ts';

/**
 * Streams `source` into a new file at `path` (never overwriting), hashing on the way, and
 * makes it durable (fdatasync). Past `maxBytes` it stops and throws 413 naming the limit; the
 * caller discards the staging folder.
 */
export async function writeInput(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable,
  path: string,
  maxBytes: number,
  what: string,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const fh = await open(path, 'wx', 0o644);
  let bytes = 0;
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw limitExceeded('inputs.maxFileBytes', maxBytes, what);
      hash.update(chunk);
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await fh.write(chunk, offset);
        offset += bytesWritten;
      }
    }
    await fh.datasync();
  } finally {
    await fh.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}
