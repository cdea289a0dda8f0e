import type { BenchResult } from './results.ts';

export interface BenchOptions {
  /** Interleaved rounds per comparison. */
  rounds: number;
  /** Seconds per target per round. */
  durationS: number;
  connections: number;
  /** Smaller data sets and fewer launches (a smoke run of the harness, not a result). */
  quick: boolean;
  /** Also measure experimental VIDAX builds from bench/variants/ (suggested fixes). */
  variants: boolean;
  log: (line: string) => void;
}

export interface Bench {
  key: string;
  describe: string;
  run(opts: BenchOptions): Promise<BenchResult>;
}

/** Thrown when a bench cannot run yet (e.g. an endpoint it measures does not exist). */
export class SkipBench extends Error {}
