import { invalidJson, payloadTooLarge } from '../errors.ts';

/**
 * Reads a request body as JSON, refusing more than `maxBytes` before it is read whole:
 * a declared Content-Length over the limit fails at once, and a chunked body fails as soon
 * as the running total passes it.
 */
export async function readJson(request: Request, maxBytes: number): Promise<unknown> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw payloadTooLarge(maxBytes);
  if (!request.body) throw invalidJson('empty body');
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw payloadTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (total === 0) throw invalidJson('empty body');
  const text = Buffer.concat(chunks, total).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidJson((err as Error).message);
  }
}
