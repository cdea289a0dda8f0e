import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode } from '../lib/errors.ts';

/**
 * Answers a request Node's HTTP parser refused (bad request line, bad framing, headers too
 * large) with the one JSON error shape instead of Node's bare 400, then closes the socket.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const code: ErrorCode = tooLarge ? 'headers_too_large' : 'bad_request';
  const status = `${ERRORS[code].status} ${STATUS_CODES[ERRORS[code].status]}`;
  const body = JSON.stringify({
    ok: false,
    error: { code, message: tooLarge ? 'request headers are too large' : 'malformed HTTP request' },
  });
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
