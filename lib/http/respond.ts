import { Response } from '@whatwg-node/server';

const JSON_TYPE = 'application/json; charset=utf-8';

/** A JSON response built with the @whatwg-node Response (the Node adapter's fast path). */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': JSON_TYPE, ...headers },
  });
}

/** A streamed response (file bodies). */
export function stream(
  body: ReadableStream<Uint8Array>,
  contentType: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, { status: 200, headers: { 'content-type': contentType, ...headers } });
}
