export interface RetryPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  giveUpAfterMs: number;
}

/**
 * Delay before attempt `attempts + 1` after `attempts` failed ones: `firstDelayMs` doubling up to
 * `maxDelayMs`, with jitter (a random 0.75×–1.25× of it, so receivers that come back are not hit
 * by every sender at once). `random` is injectable for tests.
 */
export function retryDelay(attempts: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.min(Math.max(attempts - 1, 0), 40));
  return Math.max(1, Math.round(exp * (0.75 + 0.5 * random())));
}

/** When to try again after a failed attempt at `nowMs`, or null to give up (past `giveUpAfterMs`). */
export function nextAttemptAt(createdMs: number, nowMs: number, attempts: number, policy: RetryPolicy, random?: () => number): number | null {
  const at = nowMs + retryDelay(attempts, policy, random);
  return at - createdMs > policy.giveUpAfterMs ? null : at;
}
