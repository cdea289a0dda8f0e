import { once } from 'node:events';
import { connect } from 'node:net';
import { TEST_KEY } from './context.ts';

export interface Part {
  name: string;
  filename?: string;
  type?: string;
  data: string | Uint8Array;
  /** Extra raw header lines. */
  headers?: string[];
}

export const BOUNDARY = 'vidaxTestBoundary7MA4YWxkTrZu0gW';

/** A multipart/form-data body built by hand (for malformed variants). */
export function multipartBody(parts: Part[], { boundary = BOUNDARY, end = true } = {}): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
    const lines = [`--${boundary}`, `Content-Disposition: ${disp}`];
    if (p.type) lines.push(`Content-Type: ${p.type}`);
    lines.push(...(p.headers ?? []));
    chunks.push(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  if (end) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

export const multipartType = (boundary = BOUNDARY) => `multipart/form-data; boundary=${boundary}`;

/**
 * Sends a raw HTTP request over a socket and returns the status and body, or `null` if the
 * server closed without an answer. `cut`: close the socket after sending (a client that dies mid-upload).
 */
export async function rawPost(
  url: string,
  path: string,
  body: Buffer,
  opts: { contentType?: string; contentLength?: number; cut?: boolean; key?: string } = {},
): Promise<{ status: number; body: string } | null> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  const head = [
    `POST ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    `X-API-Key: ${opts.key ?? TEST_KEY}`,
    `Content-Type: ${opts.contentType ?? multipartType()}`,
    `Content-Length: ${opts.contentLength ?? body.byteLength}`,
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  socket.write(head);
  socket.write(body);
  if (opts.cut) {
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    return null;
  }
  let text = '';
  socket.on('data', (d) => { text += d; });
  await Promise.race([once(socket, 'close'), once(socket, 'end')]);
  socket.destroy();
  const m = /^HTTP\/1\.1 (\d+)/.exec(text);
  if (!m) return null;
  const rest = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status: Number(m[1]), body: rest.slice(rest.indexOf('{'), rest.lastIndexOf('}') + 1) }; // JSON, chunked or not
}
