import { createHash, timingSafeEqual } from 'node:crypto';
import { unauthorized } from './errors.ts';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Builds a checker for the `X-API-Key` header. Both sides are hashed first, so the comparison
 * is constant-time whatever the length of the presented key. The query string is never read.
 */
export function createKeyCheck(apiKey: string): (request: Request) => void {
  const expected = digest(apiKey);
  return (request) => {
    const presented = request.headers.get('x-api-key');
    // A duplicated header arrives joined with ", ": it can never equal a valid key.
    if (presented === null || !timingSafeEqual(digest(presented), expected)) throw unauthorized();
  };
}
