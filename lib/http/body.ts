import { invalidJson, payloadTooLarge } from '../errors.ts';
import { createJsonMeter, type JsonMeterLimits } from './json-meter.ts';

/**
 * Reads a request body, refusing more than `maxBytes` before it is read whole: a declared
 * Content-Length over the limit fails at once, and a chunked body fails as soon as the running
 * total passes it. With `limits`, the JSON values are counted as the bytes arrive (413 at the
 * first one over `maxJsonValues` or `maxJsonArrayLength`, before anything parses the body).
 */
export async function readBody(request: Request, maxBytes: number, limits?: JsonMeterLimits): Promise<Buffer> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw payloadTooLarge(maxBytes);
  if (!request.body) throw invalidJson('empty body');
  const meter = limits ? createJsonMeter(limits) : undefined;
  const reader = request.body.getReader();
  // Each chunk is copied into one buffer as it arrives (sized by Content-Length, else doubled as
  // needed): no single copy of the whole body at the end stalls the event loop.
  const expected = declared === null ? 0 : Number(declared);
  let buf = Buffer.allocUnsafeSlow(Number.isSafeInteger(expected) && expected > 0 ? expected : 16 * 1024);
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.byteLength > maxBytes) throw payloadTooLarge(maxBytes);
      meter?.(value);
      if (total + value.byteLength > buf.length) {
        const grown = Buffer.allocUnsafeSlow(Math.min(maxBytes, Math.max(buf.length * 2, total + value.byteLength)));
        buf.copy(grown, 0, 0, total);
        buf = grown;
      }
      buf.set(value, total);
      total += value.byteLength;
    }
  } catch (err) {
    await discardRest(reader, maxBytes);
    throw err;
  }
  if (total === 0) throw invalidJson('empty body');
  return total === buf.length ? buf : buf.subarray(0, total);
}

/**
 * Reads and drops what is left of a body refused part way, before the error answer is sent. Node
 * closes a connection whose request was not read to the end as soon as the answer is out; the
 * client, still sending, then gets a reset (EPIPE) and often never reads the 413. Cancelling the
 * stream resets it at once. A body that goes on for more than `budget` further bytes is cut after
 * all (its sender may see the reset); Node's `requestTimeout` bounds the time.
 */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, budget: number): Promise<void> {
  try {
    for (let left = budget; ; ) {
      const { done, value } = await reader.read();
      if (done) return;
      left -= value.byteLength;
      if (left < 0) return await reader.cancel();
    }
  } catch {
    // the connection is gone: nothing left to drop
  }
}

/**
 * JSON.parse of UTF-8 bytes, as 400 `invalid_json` when they are not JSON. A UTF-8 byte-order
 * mark before the JSON (Windows editors and PowerShell write one) is skipped, as RFC 8259 allows.
 */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  return parseJsonText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

/** JSON.parse of a text (a leading byte-order mark skipped), as 400 `invalid_json`, its message prefixed by `where`. */
export function parseJsonText(text: string, where = ''): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw invalidJson(`${where}${(err as Error).message}`);
  }
}

/** Reads and parses a JSON body (see `readBody`). */
export async function readJson(request: Request, maxBytes: number, limits?: JsonMeterLimits): Promise<unknown> {
  return parseJsonBytes(await readBody(request, maxBytes, limits));
}
