// Minimal RFC 6455 server side: handshake, unmasked text frames out, masked frames in, ping/pong, close.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_MESSAGE = 16 * 1024 * 1024;

export interface WsConnection {
  send(text: string): void;
  close(code?: number): void;
  readonly open: boolean;
}

export interface WsHandlers {
  onMessage?: (text: string) => void;
  onClose?: () => void;
}

/** Builds one frame (server frames are never masked). */
/**
 * Reads a frame header: opcode, FIN, mask bit, payload length (7/16/64-bit) and where the
 * mask key (masked) or payload (unmasked) starts; null while the header is incomplete.
 */
export function readFrameHeader(buf: Buffer): { opcode: number; fin: boolean; masked: boolean; len: number; off: number } | null {
  if (buf.length < 2) return null;
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  let len = b1 & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  return { opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, masked: (b1 & 0x80) !== 0, len, off };
}

export function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  let head: Buffer;
  if (len < 126) {
    head = Buffer.from([0x80 | opcode, len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

/** Completes the handshake on an 'upgrade' socket, or answers 400 and returns null. */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, h: WsHandlers): WsConnection | null {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || String(req.headers.upgrade).toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return null;
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let open = true;
  let buf = head.length ? Buffer.from(head) : Buffer.alloc(0);
  let fragments: Buffer[] = [];
  let fragOpcode = 1;
  let closedOnce = false;
  const finish = () => {
    open = false;
    if (!closedOnce) {
      closedOnce = true;
      h.onClose?.();
    }
  };
  const conn: WsConnection = {
    get open() {
      return open;
    },
    send(text) {
      if (open) socket.write(frame(1, Buffer.from(text, 'utf8')));
    },
    close(code = 1000) {
      if (!open) return;
      const p = Buffer.alloc(2);
      p.writeUInt16BE(code);
      socket.end(frame(8, p));
      finish();
    },
  };
  const parse = () => {
    for (;;) {
      const head = readFrameHeader(buf);
      if (!head) return;
      const { opcode, fin, masked, len, off } = head;
      if (len > MAX_MESSAGE) return conn.close(1009);
      if (!masked) return conn.close(1002); // clients must mask
      if (buf.length < off + 4 + len) return;
      const mask = buf.subarray(off, off + 4);
      const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i & 3]!;
      buf = buf.subarray(off + 4 + len);
      if (opcode === 8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1000;
        return conn.close(code === 1005 || code === 1006 ? 1000 : code);
      }
      if (opcode === 9) {
        if (open) socket.write(frame(10, payload));
        continue;
      }
      if (opcode === 10) continue;
      if (opcode === 1 || opcode === 2 || opcode === 0) {
        if (opcode !== 0) fragOpcode = opcode;
        fragments.push(payload);
        if (fragments.reduce((n, b) => n + b.length, 0) > MAX_MESSAGE) return conn.close(1009);
        if (fin) {
          const whole = Buffer.concat(fragments);
          fragments = [];
          if (fragOpcode === 1) h.onMessage?.(whole.toString('utf8'));
        }
        continue;
      }
      return conn.close(1002);
    }
  };
  socket.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : Buffer.from(d);
    parse();
  });
  socket.on('close', finish);
  socket.on('error', () => {
    socket.destroy();
    finish();
  });
  if (buf.length) queueMicrotask(parse);
  return conn;
}
