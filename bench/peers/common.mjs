// Shared by the peer servers: the same key check, request id and JSON bytes as VIDAX.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

const digest = (value) => createHash('sha256').update(value, 'utf8').digest();
const expected = digest(process.env.BENCH_API_KEY ?? '');

/** Constant-time check of X-API-Key, as lib/auth.ts does it (both sides hashed first). */
export const keyOk = (presented) => typeof presented === 'string' && timingSafeEqual(digest(presented), expected);

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Echoes a sane incoming X-Request-Id, else mints one (lib/request-id.ts). */
export const requestId = (incoming) => (typeof incoming === 'string' && SANE_ID.test(incoming) ? incoming : randomUUID());

export const JSON_TYPE = 'application/json; charset=utf-8';
export const UNAUTHORIZED = JSON.stringify({
  ok: false,
  error: { code: 'unauthorized', message: 'missing or invalid X-API-Key header', details: null },
});
export const NOT_FOUND = JSON.stringify({ ok: false, error: { code: 'not_found', message: 'no such run', details: null } });

const startedAt = Date.now();
export const healthBody = () => JSON.stringify({ ok: true, version: '0.1.0', uptime_s: Math.round((Date.now() - startedAt) / 1000) });

/** The bytes GET /jobs/:id answers, read once (BENCH_JOB_BODY names a file holding them). */
export const jobBody = process.env.BENCH_JOB_BODY ? readFileSync(process.env.BENCH_JOB_BODY) : null;
/** The one run id the peer knows (others get 404, as VIDAX answers for unknown ids). */
export const jobId = process.env.BENCH_JOB_ID ?? '';
export const port = Number(process.env.PORT);

// Exit through process.exit on SIGTERM, so `node --cpu-prof` writes its profile.
process.once('SIGTERM', () => process.exit(0));
