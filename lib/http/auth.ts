import { hash, timingSafeEqual } from 'node:crypto';
import { unauthorized } from '../errors.ts';

/** SHA-256 of `value` into `out` (32 bytes). One-shot `crypto.hash` as base64 into a reused buffer:
 * several times cheaper per request than `createHash(…).digest()`, which allocates a new Buffer. */
const digestInto = (value: string, out: Buffer) => {
  out.write(hash('sha256', value, 'base64'), 'base64');
  return out;
};

/**
 * Builds a checker for the `X-API-Key` header. Both sides are hashed first, so the comparison
 * is constant-time whatever the length of the presented key. The query string is never read.
 */
export function createKeyCheck(apiKey: string): (request: Request) => void {
  const expected = digestInto(apiKey, Buffer.alloc(32));
  const presentedDigest = Buffer.alloc(32); // reused: the check is synchronous
  return (request) => {
    const presented = request.headers.get('x-api-key');
    // A duplicated header arrives joined with ", ": it can never equal a valid key.
    if (presented === null || !timingSafeEqual(digestInto(presented, presentedDigest), expected)) throw unauthorized();
  };
}
