import type { Duplex } from 'node:stream';

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
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const body = JSON.stringify({
    ok: false,
    error: tooLarge
      ? { code: 'headers_too_large', message: 'request headers are too large' }
      : { code: 'bad_request', message: 'malformed HTTP request' },
  });
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
