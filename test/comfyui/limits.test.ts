// Replies from ComfyUI are bounded: a hostile or broken ComfyUI cannot make VIDAX hold its answer.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createComfyUIClient } from '../../lib/comfyui/client.ts';
import { isComfyUIError } from '../../lib/comfyui/errors.ts';
import { createEventStream } from '../../lib/comfyui/events.ts';
import { createMemoryLogger } from '../../lib/logger.ts';

const MIB = 1024 * 1024;

describe('ComfyUI replies are capped', () => {
  let server: Server;
  let url: string;
  const hits = new Map<string, number>();
  let streamed = 0;
  const upgrades: IncomingMessage['headers'][] = [];

  before(async () => {
    server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path.startsWith('/history/')) {
        // 64 MiB of valid JSON, streamed without a length (as ComfyUI does), counting what was taken.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"x":"');
        const chunk = Buffer.alloc(MIB, 0x61);
        let sent = 0;
        const pump = () => {
          while (sent < 64) {
            sent++;
            streamed += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end('"}');
        };
        res.on('close', () => {});
        pump();
      } else if (path === '/queue') {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"queue_running":[],"queue_pending":[]}');
        }, 50);
      } else if (path === '/system_stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>not json</html>');
      } else {
        res.writeHead(404).end();
      }
    });
    // A WebSocket that registers the client (a small `status`), then sends one 20 MiB text message.
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      upgrades.push(req.headers);
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      const status = Buffer.from(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: 0 } }, sid: 'x' } }));
      socket.write(Buffer.concat([Buffer.from([0x81, status.length]), status]));
      const size = 20 * MIB;
      const head = Buffer.alloc(10);
      head[0] = 0x81;
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(size), 2);
      socket.write(head);
      socket.write(Buffer.alloc(size, 0x20));
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('a reply over maxReplyBytes is COMFYUI_PROTOCOL_ERROR, read no further than the cap', async () => {
    const client = createComfyUIClient({ url, requestTimeoutMs: 10_000, maxReplyBytes: 2 * MIB });
    try {
      const err = await client.history('p').then(() => assert.fail('expected a refusal'), (e: unknown) => e);
      assert.ok(isComfyUIError(err, 'COMFYUI_PROTOCOL_ERROR'), String(err));
      assert.equal((err.details as { reason: string }).reason, 'reply_too_large');
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(streamed < 16 * MIB, `the server got to stream ${streamed} bytes`);
    } finally {
      await client.close();
    }
  });

  it('an answer that is not JSON is COMFYUI_PROTOCOL_ERROR, not "unreachable"', async () => {
    const client = createComfyUIClient({ url, requestTimeoutMs: 10_000 });
    try {
      const err = await client.systemStats().then(() => assert.fail('expected a refusal'), (e: unknown) => e);
      assert.ok(isComfyUIError(err, 'COMFYUI_PROTOCOL_ERROR'), String(err));
      assert.equal((err.details as { reason: string }).reason, 'not_json');
    } finally {
      await client.close();
    }
  });

  it('queue polls within shareQueueMs share one GET /queue', async () => {
    const client = createComfyUIClient({ url, requestTimeoutMs: 10_000, shareQueueMs: 500 });
    try {
      hits.delete('/queue');
      const answers = await Promise.all(Array.from({ length: 20 }, () => client.queue()));
      assert.ok(answers.every((q) => q.running.length === 0 && q.pending.length === 0));
      assert.equal(hits.get('/queue'), 1);
      await new Promise((r) => setTimeout(r, 600));
      await client.queue();
      assert.equal(hits.get('/queue'), 2, 'an older answer is not reused');
    } finally {
      await client.close();
    }
  });

  it('a WebSocket message over maxMessageBytes closes the socket instead of being buffered', async () => {
    const log = createMemoryLogger();
    const events = createEventStream({ url, log, maxMessageBytes: 1 * MIB, backoff: { initialMs: 60_000, maxMs: 60_000 }, readyTimeoutMs: 2000 });
    const states: string[] = [];
    events.onConnectionChange((s) => states.push(s));
    try {
      await events.ready(5000);
      const deadline = Date.now() + 5000;
      while (!states.includes('lost') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(states, ['open', 'lost']);
    } finally {
      events.close();
    }
  });

  it('the event socket offers no permessage-deflate (ComfyUI is local: inflating every message only costs CPU)', async () => {
    const events = createEventStream({ url, log: createMemoryLogger(), backoff: { initialMs: 60_000, maxMs: 60_000 }, readyTimeoutMs: 2000 });
    try {
      const before = upgrades.length;
      await events.ready(5000);
      const handshake = upgrades[before];
      assert.ok(handshake, 'a WebSocket handshake reached the server');
      assert.equal(handshake.upgrade, 'websocket');
      assert.equal(handshake['sec-websocket-extensions'], undefined);
    } finally {
      events.close();
    }
  });
});

describe('awaitPrompt: a ComfyUI that answers garbage', () => {
  it('is a protocol error after unreachableMs, not COMFYUI_CRASHED; a network fault stays "crashed"', async () => {
    const { awaitPrompt, Hint } = await import('../../lib/runner/await-prompt.ts');
    const { ComfyUIError } = await import('../../lib/comfyui/errors.ts');
    const run = (err: Error) =>
      awaitPrompt(
        {
          promptId: 'p',
          source: { history: () => Promise.reject(err), queue: () => Promise.reject(err) },
          deadline: Date.now() + 10_000,
          signal: new AbortController().signal,
          pollMs: 10,
          unreachableMs: 100,
          onQueuePosition: () => {},
        },
        new Hint(),
      );
    const garbage = await run(new ComfyUIError('COMFYUI_PROTOCOL_ERROR', "ComfyUI's reply to GET /history is not JSON"));
    assert.equal(garbage.kind, 'protocol');
    const down = await run(new ComfyUIError('COMFYUI_UNREACHABLE', 'ECONNREFUSED'));
    assert.equal(down.kind, 'crashed');
  });
});
