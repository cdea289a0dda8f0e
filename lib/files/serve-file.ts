import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { rangeNotSatisfiable } from '../errors.ts';
import { fileResponse } from '../http/respond.ts';

export interface ServedFile {
  /** Absolute path; opened only if it is exactly its own real path (no symlink anywhere) and a regular file. */
  path: string;
  contentType: string;
  /** The file's sha256 (hex): the strong ETag. */
  sha256: string;
}

/** `bytes=a-b` | `bytes=a-` | `bytes=-n` → [start, end] within `size`; null: 416. One range only. */
export function parseRange(header: string, size: number): [number, number] | null {
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return null;
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return null;
  return [start, end];
}

const tags = (header: string) => header.split(',').map((t) => t.trim().replace(/^W\//, ''));

/**
 * Answers GET/HEAD for one file: Content-Type, Content-Length, ETag (`"<sha256>"`),
 * Accept-Ranges; `If-None-Match` → 304; one `Range` → 206 (`If-Range` honoured), a malformed,
 * unsatisfiable or multi-range one → 416. Returns null when the file is missing, not a regular
 * file, or reached through a symlink (the caller answers 404).
 */
export async function serveFile(request: Request, file: ServedFile): Promise<Response | null> {
  const real = await realpath(file.path).catch(() => null);
  if (real !== file.path) return null; // missing, or a symlink somewhere on the way
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  let keep = false;
  try {
    const st = await fh.stat();
    if (!st.isFile()) return null;
    const size = st.size;
    const etag = `"${file.sha256}"`;
    const headers: Record<string, string> = { etag, 'accept-ranges': 'bytes', 'cache-control': 'private, no-cache' };
    const inm = request.headers.get('if-none-match');
    if (inm !== null && (inm.trim() === '*' || tags(inm).includes(etag))) return fileResponse(304, null, headers);
    let range: [number, number] | null = null;
    const rangeHeader = request.headers.get('range');
    const ifRange = request.headers.get('if-range');
    if (rangeHeader !== null && (ifRange === null || ifRange.trim() === etag)) {
      range = parseRange(rangeHeader, size);
      if (!range) throw rangeNotSatisfiable(size);
      headers['content-range'] = `bytes ${range[0]}-${range[1]}/${size}`;
    }
    const [start, end] = range ?? [0, size - 1];
    headers['content-type'] = file.contentType;
    headers['content-length'] = String(end - start + 1);
    const status = range ? 206 : 200;
    if (request.method === 'HEAD' || end < start) return fileResponse(status, null, headers);
    keep = true;
    return fileResponse(status, fh.createReadStream({ start, end, autoClose: true, highWaterMark: 256 * 1024 }), headers);
  } finally {
    if (!keep) await fh.close();
  }
}
