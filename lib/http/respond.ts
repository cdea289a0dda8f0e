import { Readable } from 'node:stream';
/**
 * JSON and streamed responses. The Response class is injected by the HTTP adapter
 * (`useResponseClass`): adapters/app.ts installs @whatwg-node/server's, which the Node server
 * writes out without reading a stream (the fast path); until then, and for a function called
 * alone, the platform's. The core never imports the adapter's package.
 */
let ResponseClass: typeof Response = globalThis.Response;

/** Makes every response from here on an instance of `ctor` (called once by the HTTP adapter). */
export function useResponseClass(ctor: typeof Response): void {
  ResponseClass = ctor;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** A JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new ResponseClass(JSON.stringify(body), {
    status,
    headers: { 'content-type': JSON_TYPE, ...headers },
  });
}

/** A JSON response whose body is already serialized (e.g. a cached document). */
export function jsonText(text: string, status = 200, headers: Record<string, string> = {}): Response {
  return new ResponseClass(text, { status, headers: { 'content-type': JSON_TYPE, ...headers } });
}

/** A streamed response (file bodies). */
export function stream(
  body: ReadableStream<Uint8Array>,
  contentType: string,
  headers: Record<string, string> = {},
): Response {
  return new ResponseClass(body, { status: 200, headers: { 'content-type': contentType, ...headers } });
}

/** A response without a body (e.g. 204). */
export function empty(status: number, headers: Record<string, string> = {}): Response {
  return new ResponseClass(null, { status, headers });
}

/**
 * A file body: the adapter's Response takes the Node stream as is (piped to the socket, no web
 * stream in between); the platform's Response gets it as a web stream. `null`: headers only.
 */
export function fileResponse(status: number, body: Readable | null, headers: Record<string, string>): Response {
  const native = ResponseClass === globalThis.Response;
  const init = body === null ? null : native ? (Readable.toWeb(body) as unknown as ReadableStream<Uint8Array>) : (body as unknown as BodyInit);
  return new ResponseClass(init, { status, headers });
}
