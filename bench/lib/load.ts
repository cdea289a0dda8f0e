import autocannon from 'autocannon';

/** One measurement window against one target. */
export interface Sample {
  rps: number;
  /** Latency percentiles in ms (autocannon's histogram: 1 ms resolution under ~1 ms). */
  p50: number;
  p99: number;
  total: number;
  errors: number;
  non2xx: number;
}

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationS: number;
  /** Stop after this many requests instead of after `durationS`. */
  amount?: number;
}

/** Runs autocannon against a loopback URL for a bounded time. */
export async function cannon(spec: LoadSpec): Promise<Sample> {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(spec.url)) throw new Error(`loopback only: ${spec.url}`);
  const result = await autocannon({
    url: spec.url,
    method: spec.method ?? 'GET',
    headers: spec.headers ?? {},
    ...(spec.body === undefined ? {} : { body: spec.body }),
    connections: spec.connections,
    duration: spec.durationS,
    ...(spec.amount === undefined ? {} : { amount: spec.amount }),
    timeout: 10,
  });
  return {
    rps: result.requests.total / Math.max(result.duration, 0.001),
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export const percentile = (values: readonly number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
