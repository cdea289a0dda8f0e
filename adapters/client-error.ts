import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode } from '../lib/errors.ts';

/** Writes the one JSON error shape straight on a socket (no Response object exists), then closes it. */
function endWithError(socket: Duplex, code: ErrorCode, message: string, headers = ''): number {
  const status = ERRORS[code].status;
  const body = JSON.stringify({ ok: false, error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${headers}connection: close\r\n\r\n${body}`,
  );
  return status;
}

/**
 * Answers a request Node's HTTP parser refused (bad request line, bad framing, headers too
 * large) or timed out (headersTimeoutMs/requestTimeoutMs: 408) with the one JSON error shape instead of Node's bare 400, then closes the socket.
 * Returns the status sent (for the request log), or null when the client was already gone.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): number | null {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return null;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') return endWithError(socket, 'headers_too_large', 'request headers are too large');
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return endWithError(socket, 'request_timeout', 'the request took too long to arrive');
  return endWithError(socket, 'bad_request', 'malformed HTTP request');
}

/**
 * Answers `CONNECT` (which Node hands to a 'connect' listener, not to the request listener, and
 * otherwise drops without a word): 401 without the key, else 405 (VIDAX is no proxy).
 */
export function answerConnect(socket: Duplex, authorized: boolean): number {
  if (!socket.writable) {
    socket.destroy();
    return 0;
  }
  return authorized
    ? endWithError(socket, 'method_not_allowed', 'CONNECT is not supported', 'allow: GET, POST\r\n')
    : endWithError(socket, 'unauthorized', 'missing or invalid X-API-Key header');
}
