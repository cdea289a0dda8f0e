import type { FileHandle } from 'node:fs/promises';
import { isNotRegular, openRegular } from './safe-open.ts';
import { Readable } from 'node:stream';

export interface FileStream {
  body: ReadableStream<Uint8Array>;
  /** Bytes streamed: the file's size when it was opened (later appends are not included). */
  size: number;
}

/**
 * Opens a file for streaming; null if it does not exist or is not a regular file (a symlink, FIFO,
 * device: never followed, never waited on). The open fd survives a rename over the path.
 */
export async function openFileStream(path: string): Promise<FileStream | null> {
  let fh: FileHandle;
  try {
    fh = await openRegular(path, 'r');
  } catch (err) {
    if (isNotRegular(err) || ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return null;
    throw err;
  }
  let size: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      return null;
    }
    size = st.size;
  } catch (err) {
    await fh.close();
    throw err;
  }
  if (size === 0) {
    await fh.close();
    return { body: new ReadableStream({ start: (c) => c.close() }), size };
  }
  const node = fh.createReadStream({ start: 0, end: size - 1, autoClose: true });
  return { body: Readable.toWeb(node) as unknown as ReadableStream<Uint8Array>, size };
}
