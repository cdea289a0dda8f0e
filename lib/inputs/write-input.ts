import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { limitExceeded } from '../errors.ts';

const BATCH = 256 * 1024;

/**
 * Streams `source` into a new file at `path` (never overwriting), hashing on the way, and
 * makes it durable (fdatasync). Chunks are written in ~256 KiB `writev` batches, one batch in
 * flight while the next is read and hashed. Past `maxBytes` it stops and throws 413 naming the
 * limit; the caller discards the staging folder.
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
  let inFlight: Promise<void> = Promise.resolve();
  const writeAll = async (chunks: Uint8Array[], total: number) => {
    const { bytesWritten } = await fh.writev(chunks);
    if (bytesWritten < total) {
      const rest = Buffer.concat(chunks).subarray(bytesWritten); // a short write: rare, finish plainly
      for (let off = 0; off < rest.length; ) off += (await fh.write(rest, off)).bytesWritten;
    }
  };
  try {
    let batch: Uint8Array[] = [];
    let batched = 0;
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw limitExceeded('inputs.maxFileBytes', maxBytes, what);
      hash.update(chunk);
      batch.push(chunk);
      batched += chunk.byteLength;
      if (batched >= BATCH) {
        await inFlight;
        inFlight = writeAll(batch, batched);
        batch = [];
        batched = 0;
      }
    }
    await inFlight;
    if (batched > 0) await writeAll(batch, batched);
    await fh.datasync();
  } finally {
    await inFlight.catch(() => {});
    await fh.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}
