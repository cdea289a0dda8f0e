import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the secret is `whsec_` + base64
 * of the key; each attempt signs `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256 and
 * sends `webhook-signature: v1,<base64>`.
 */
export const SECRET_PREFIX = 'whsec_';
/** The spec asks for 24 to 64 bytes of key. */
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Why `secret` cannot be used (never echoing it), or null when it can. */
export function secretProblem(secret: string): string | null {
  const how = 'e.g. `echo whsec_$(openssl rand -base64 32)`';
  if (!secret.startsWith(SECRET_PREFIX)) return `must start with "${SECRET_PREFIX}" followed by base64 (${how})`;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(b64) || b64.length % 4 !== 0) return `the part after "${SECRET_PREFIX}" must be base64 (${how})`;
  const bytes = Buffer.from(b64, 'base64').length;
  if (bytes < MIN_SECRET_BYTES) return `too short (${bytes} bytes of key); use ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes (${how})`;
  if (bytes > MAX_SECRET_BYTES) return `too long (${bytes} bytes of key); use ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes`;
  return null;
}

/** The HMAC key of a valid secret. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function sign(key: Buffer, id: string, timestampS: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampS}.${body}`).digest('base64')}`;
}

/** The three Standard Webhooks headers of one attempt. */
export function signedHeaders(key: Buffer, id: string, timestampS: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': sign(key, id, timestampS, body),
  };
}
