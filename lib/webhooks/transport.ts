import { createUrlGuard, OutboundError, type UrlGuard } from '../net/url-guard.ts';
import type { WebhooksConfig } from '../config.ts';

/** What one attempt came to: delivered (2xx), or why not and whether trying again can help. */
export interface AttemptOutcome {
  ok: boolean;
  /** The receiver's HTTP status, or `timeout` / `network_error` / `blocked`. */
  status: number | string;
  error: string | null;
  /** A retry cannot succeed (the address is refused by the URL rules). */
  permanent: boolean;
}

/** Sends signed deliveries through the outbound-URL guard (allow-list, address checks, redirects). */
export interface WebhookTransport {
  /** Throws an `OutboundError` when the URL breaks the rules (before anything is recorded). */
  check(url: string): void;
  post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<AttemptOutcome>;
  close(): Promise<void>;
}

/** At most this much of a receiver's answer is read (a 10 MB answer costs nothing more). */
export const MAX_RESPONSE_READ = 4096;

export function createWebhookTransport(config: WebhooksConfig, guard?: UrlGuard): WebhookTransport {
  const g =
    guard ??
    createUrlGuard({
      allow: config.urlAllow,
      allowLoopback: config.allowLoopback,
      timeoutMs: config.timeoutMs,
      maxRedirects: 3,
      // The body is never read past MAX_RESPONSE_READ, so a declared size refuses nothing.
      maxBytes: Number.MAX_SAFE_INTEGER,
    });
  return {
    check(url) {
      g.check(url);
    },
    async post(url, headers, body, signal) {
      try {
        const res = await g.request(url, { method: 'POST', headers, body, signal });
        await readSome(res.body, MAX_RESPONSE_READ).catch(() => {});
        res.cancel();
        const ok = res.status >= 200 && res.status <= 299;
        return { ok, status: res.status, error: ok ? null : `the receiver answered HTTP ${res.status}`, permanent: false };
      } catch (err) {
        if (!(err instanceof OutboundError)) return { ok: false, status: 'network_error', error: (err as Error).message, permanent: false };
        if (err.kind === 'refused') return { ok: false, status: 'blocked', error: err.message, permanent: true };
        return { ok: false, status: err.kind === 'timeout' ? 'timeout' : 'network_error', error: err.message, permanent: false };
      }
    },
    close: () => g.close(),
  };
}

/** Reads at most `max` bytes (so a small answer frees its connection for reuse), then stops. */
async function readSome(body: AsyncIterable<Uint8Array>, max: number): Promise<void> {
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > max) return;
  }
}
