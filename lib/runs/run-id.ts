import { randomBytes } from 'node:crypto';

/**
 * Run ids: `r_<13-digit epoch ms>_<4 base-36 counter><6 random base-36>`, e.g.
 * `r_1767225600000_0000k3x9qa`. URL-safe, 26 characters, and sortable by creation time as plain
 * strings (the counter orders ids minted in the same millisecond; the random tail keeps two
 * processes apart). Anything that fails `isRunId` never reaches a filesystem path.
 */
export const RUN_ID_RE = /^r_\d{13}_[0-9a-z]{1,16}$/;

export function isRunId(id: unknown): id is string {
  return typeof id === 'string' && RUN_ID_RE.test(id);
}

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

function randomTail(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 36];
  return out;
}

/** A minter of strictly increasing run ids (one per store; `now` is injectable for tests). */
export function createRunIdMinter(now: () => number = Date.now): () => string {
  let lastMs = 0;
  let counter = 0;
  return () => {
    let ms = now();
    if (ms <= lastMs) {
      ms = lastMs; // same millisecond, or the clock stepped back: keep ids increasing
      counter += 1;
      if (counter >= 36 ** 4) {
        ms = lastMs + 1; // 1.6 M ids in one millisecond: borrow the next one
        counter = 0;
      }
    } else {
      counter = 0;
    }
    lastMs = ms;
    return `r_${String(ms).padStart(13, '0')}_${counter.toString(36).padStart(4, '0')}${randomTail(6)}`;
  };
}
