import { once } from 'node:events';
import { readFrameHeader } from '../../simulator/ws.ts';
import { connect, createServer, type Socket } from 'node:net';

export interface WsTap {
  /** http://127.0.0.1:<port>: give it to VIDAX as VIDAX_COMFYUI_URL. */
  url: string;
  close(): Promise<void>;
}

/**
 * A transparent TCP relay in front of ComfyUI that reads the WebSocket frames ComfyUI sends to
 * its client and calls `onText(text, at)` for each text frame, `at` being performance.now() right
 * after the frame's last byte was handed to the client's socket. The bench and its file watchers
 * share that clock, so "ComfyUI sent X → X is in events.jsonl" is measured without clock skew.
 */
export async function startWsTap(target: URL, onText: (text: string, at: number) => void): Promise<WsTap> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    let mode: 'head' | 'ws' | 'http' = 'head';
    let buf = Buffer.alloc(0);
    upstream.on('end', () => client.end());
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      const at = performance.now();
      if (mode === 'http') return;
      buf = Buffer.concat([buf, chunk]);
      if (mode === 'head') {
        if (buf.length < 12) return;
        if (!buf.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
          mode = 'http';
          buf = Buffer.alloc(0);
          return;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        mode = 'ws';
        buf = buf.subarray(end + 4);
      }
      // Server frames are unmasked: opcode, 7/16/64-bit length, payload.
      for (;;) {
        const head = readFrameHeader(buf);
        if (!head) break;
        const { opcode, len, off } = head;
        if (buf.length < off + len) break;
        if (opcode === 1) onText(buf.toString('utf8', off, off + len), at);
        buf = buf.subarray(off + len);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
