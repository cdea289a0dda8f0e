// Entry of `npm run bench [-- <name>…] [--quick] [--variants] [--rounds N] [--seconds S] [--connections C]`.
import { parseArgs } from 'node:util';
import { footprint } from './footprint.ts';
import { health } from './health.ts';
import { jobsGet, jobsPost } from './jobs.ts';
import { media } from './media.ts';
import { mediaRss } from './media-rss.ts';
import { type Bench, SkipBench } from './lib/bench.ts';
import { markdown, RESULTS_FILE, saveResult } from './lib/results.ts';
import { orchestration } from './orchestration.ts';
import { overhead } from './overhead.ts';
import { scale } from './scale.ts';
import { transfer } from './transfer.ts';

const benches: Bench[] = [health, footprint, jobsGet, jobsPost, scale, orchestration, transfer, overhead, media, mediaRss];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    variants: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    connections: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});

if (values.list) {
  for (const b of benches) process.stdout.write(`${b.key.padEnd(12)} ${b.describe}\n`);
  process.exit(0);
}

const unknown = positionals.filter((p) => !benches.some((b) => b.key === p));
if (unknown.length) {
  process.stderr.write(`unknown bench: ${unknown.join(', ')} (known: ${benches.map((b) => b.key).join(', ')})\n`);
  process.exit(2);
}
const selected = positionals.length ? benches.filter((b) => positionals.includes(b.key)) : benches;
const opts = {
  quick: values.quick,
  variants: values.variants,
  rounds: Number(values.rounds ?? (values.quick ? 2 : 5)),
  durationS: Number(values.seconds ?? (values.quick ? 1 : 3)),
  connections: Number(values.connections ?? 16),
  log: (line: string) => process.stderr.write(`${line}\n`),
};

let failed = false;
for (const bench of selected) {
  opts.log(`== ${bench.key}: ${bench.describe}`);
  const started = Date.now();
  try {
    const result = await bench.run(opts);
    if (!opts.quick) saveResult(bench.key, result);
    process.stdout.write(`\n${markdown(result)}\n`);
    opts.log(`   (${Math.round((Date.now() - started) / 1000)} s)`);
  } catch (err) {
    if (err instanceof SkipBench) {
      opts.log(`-- ${bench.key} skipped: ${err.message}`);
      continue;
    }
    failed = true;
    opts.log(`!! ${bench.key} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}
if (!opts.quick) opts.log(`results merged into ${RESULTS_FILE}`);
process.exit(failed ? 1 : 0);
