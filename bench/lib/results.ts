import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Summary } from './compare.ts';
import { ROOT } from './proc.ts';

export const RESULTS_FILE = join(ROOT, 'bench', 'results', 'latest.json');

/** One row of a result table: absolute numbers, and a ratio against the named baseline. */
export interface Row {
  target: string;
  [column: string]: string | number;
}

/** A target from the issue, the measured value, and whether it was met. */
export interface Check {
  name: string;
  value: number;
  unit: string;
  target: string;
  pass: boolean;
}

export interface BenchResult {
  title: string;
  settings: Record<string, string | number>;
  rows: Row[];
  checks: Check[];
  notes?: string[];
}

const round = (n: number, digits = 2) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);

/** Table rows for throughput summaries: req/s, latency, errors and ratio against `baseline`. */
export function throughputRows(summaries: Summary[], baseline: string): Row[] {
  return summaries.map((s) => ({
    target: s.name,
    'req/s': Math.round(s.rps),
    'p50 ms': round(s.p50),
    'p99 ms': round(s.p99),
    [`× ${baseline}`]: round(s.ratio),
    requests: s.total,
    errors: s.errors,
    non2xx: s.non2xx,
  }));
}

export function check(name: string, value: number, unit: string, target: string, pass: boolean): Check {
  return { name, value: round(value, 3), unit, target, pass };
}

/** Merges one benchmark's result into latest.json (other benchmarks' keys are kept). */
export function saveResult(key: string, result: BenchResult): void {
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Record<string, unknown>;
  } catch {
    // first run, or an unreadable file: start over
  }
  const cpu = cpus();
  all[key] = {
    measured_at: new Date().toISOString(),
    node: process.version,
    cpus: `${cpu.length} × ${cpu[0]?.model ?? '?'}`,
    ...result,
  };
  mkdirSync(join(RESULTS_FILE, '..'), { recursive: true });
  const tmp = `${RESULTS_FILE}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`);
  renameSync(tmp, RESULTS_FILE);
}

function table(rows: Row[]): string {
  if (rows.length === 0) return '';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(cols), line(cols.map(() => '---')), ...rows.map((r) => line(cols.map((c) => r[c] ?? '')))].join('\n');
}

/** Markdown for one benchmark: the measured table, then every check against its target. */
export function markdown(result: BenchResult): string {
  const checks = result.checks.map((c) => ({
    target: c.name,
    measured: `${round(c.value, 3)} ${c.unit}`.trim(),
    goal: c.target,
    met: c.pass ? 'yes' : '**NO**',
  }));
  const settings = Object.entries(result.settings)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const parts = [`### ${result.title}`, '', `_${settings}_`, '', table(result.rows)];
  if (checks.length) parts.push('', table(checks));
  if (result.notes?.length) parts.push('', ...result.notes.map((n) => `- ${n}`));
  return `${parts.join('\n')}\n`;
}
