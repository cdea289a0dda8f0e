import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SkipBench } from './bench.ts';
import { ROOT } from './proc.ts';

/** Skips the bench unless every named repo file exists (parts other helpers are still building). */
export function needFiles(...paths: string[]): void {
  const missing = paths.filter((p) => !existsSync(join(ROOT, p)));
  if (missing.length) throw new SkipBench(`needs ${missing.join(', ')} (not in the tree yet)`);
}
