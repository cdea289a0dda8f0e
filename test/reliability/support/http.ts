// Raw HTTP for the reliability suite: node:http (duplicate headers, chunked bodies) and a bare socket.
import { request } from 'node:http';
import { connect } from 'node:net';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface CallInit {
  method?: string;
  headers?: Record<string, string | string[]>;
  /** Sent with Content-Length unless `chunked`; an array is written chunk by chunk. */
  body?: string | Buffer | (string | Buffer)[];
  chunked?: boolean;
  timeoutMs?: number;
}

/** One request on a fresh connection to `base` (http://127.0.0.1:port); `path` is sent as is. */
export function call(base: string, path: string, init: CallInit = {}): Promise<Reply> {
  const { hostname, port } = new URL(base);
  if (hostname !== '127.0.0.1') throw new Error(`loopback only: ${base}`);
  const parts = init.body === undefined ? [] : Array.isArray(init.body) ? init.body : [init.body];
  const headers: Record<string, string | string[]> = { ...init.headers };
  if (!init.chunked && parts.length > 0) headers['content-length'] = String(parts.reduce((n, p) => n + Buffer.byteLength(p), 0));
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method: init.method ?? 'GET', path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(init.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout: ${init.method ?? 'GET'} ${path.slice(0, 80)}`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer (413) and close before the whole body is written: let a reply win.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') setTimeout(() => reject(err), 300);
      else reject(err);
    });
    for (const p of parts) req.write(p);
    req.end();
  });
}

/** Writes raw bytes on a socket and returns everything the server sent until it closed (or `ms`). */
export function rawExchange(port: number, bytes: string | Buffer, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (c) => {
      chunks.push(c);
      // One full response is enough (the server may keep the connection open).
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1];
      if (head >= 0 && len !== undefined && text.length >= head + 4 + Number(len)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(bytes);
  });
}

/** Parses the first response out of raw bytes. */
export function parseRaw(raw: string): Reply {
  const head = raw.indexOf('\r\n\r\n');
  const lines = raw.slice(0, head < 0 ? raw.length : head).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let text = head < 0 ? '' : raw.slice(head + 4);
  const len = headers['content-length'];
  if (len !== undefined) text = text.slice(0, Number(len));
  return { status, headers, text: Buffer.from(text, 'latin1').toString('utf8') };
}

/** GET /health latencies (ms) on `base`, one probe every ~5 ms, until `done()` says so; each must answer 200. */
export async function probeHealth(base: string, key: string, done: () => boolean): Promise<number[]> {
  const ms: number[] = [];
  while (!done()) {
    const t = performance.now();
    const r = await call(base, '/health', { headers: { 'x-api-key': key }, timeoutMs: 60_000 });
    ms.push(performance.now() - t);
    if (r.status !== 200) throw new Error(`/health answered ${r.status}: ${r.text.slice(0, 200)}`);
    await new Promise((res) => setTimeout(res, 5));
  }
  return ms;
}
