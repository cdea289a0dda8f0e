import { median, type Sample } from './load.ts';

/** Something measured for `durationS` seconds: an HTTP server under autocannon, or an in-process loop. */
export interface Target {
  name: string;
  measure(durationS: number): Promise<Sample>;
}

/** `rps`, `p50`, `p99`: medians over rounds; `total`, `errors`, `non2xx`: sums over rounds. */
export interface Summary extends Sample {
  name: string;
  /** rps / baseline rps (baseline measured in the same run). */
  ratio: number;
  rounds: Sample[];
}

export interface InterleaveOptions {
  targets: Target[];
  /** Name of the target the ratios are taken against. */
  baseline: string;
  rounds: number;
  durationS: number;
  warmupS?: number;
  onRound?: (round: number, name: string, sample: Sample) => void;
}

/**
 * Measures every target once per round, rotating the order each round so that no target always
 * runs first or last on a shared, noisy machine. Reports medians and ratios against the baseline.
 */
export async function interleave(opts: InterleaveOptions): Promise<Summary[]> {
  const { targets } = opts;
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
  for (const t of targets) if (opts.warmupS) await t.measure(opts.warmupS);
  for (let round = 0; round < opts.rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + round) % targets.length]!;
      const sample = await t.measure(opts.durationS);
      samples.get(t.name)!.push(sample);
      opts.onRound?.(round, t.name, sample);
    }
  }
  const summaries = targets.map((t): Summary => {
    const rounds = samples.get(t.name)!;
    const sum = (k: 'total' | 'errors' | 'non2xx') => rounds.reduce((a, s) => a + s[k], 0);
    return {
      name: t.name,
      rps: median(rounds.map((s) => s.rps)),
      p50: median(rounds.map((s) => s.p50)),
      p99: median(rounds.map((s) => s.p99)),
      total: sum('total'),
      errors: sum('errors'),
      non2xx: sum('non2xx'),
      ratio: Number.NaN,
      rounds,
    };
  });
  const base = summaries.find((s) => s.name === opts.baseline);
  if (!base) throw new Error(`no baseline ${opts.baseline}`);
  for (const s of summaries) s.ratio = s.rps / base.rps;
  return summaries;
}
