// Peer: bare node:http moving files, the baseline of the transfer bench. POST /upload streams the
// body into a new file and fsyncs it (as VIDAX makes an upload durable); GET /file streams
// BENCH_FILE with fs.createReadStream (a Range of the form bytes=-N or bytes=a-b honoured).
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { keyOk, port } from './common.mjs';

const file = process.env.BENCH_FILE ?? '';
const uploads = process.env.BENCH_UPLOAD_DIR ?? '';
let n = 0;

const server = createServer(async (req, res) => {
  if (!keyOk(req.headers['x-api-key'])) return res.writeHead(401).end();
  if (req.url === '/health') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  if (req.method === 'POST' && req.url === '/upload') {
    const dest = `${uploads}/up-${n++}.bin`;
    await pipeline(req, createWriteStream(dest));
    const fh = await open(dest, 'r+');
    await fh.datasync();
    await fh.close();
    await rm(dest);
    return res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
  }
  if (req.method === 'GET' && (req.url === '/file' || req.url === '/small')) {
    const path = req.url === '/file' ? file : process.env.BENCH_SMALL_FILE ?? '';
    const size = statSync(path).size;
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    let [start, end] = [0, size - 1];
    if (m) [start, end] = m[1] === '' ? [size - Number(m[2]), size - 1] : [Number(m[1]), m[2] === '' ? size - 1 : Number(m[2])];
    res.writeHead(m ? 206 : 200, { 'content-type': 'application/octet-stream', 'content-length': end - start + 1 });
    return pipeline(createReadStream(path, { start, end }), res).catch(() => {});
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 5000;
server.listen(port, '127.0.0.1');
