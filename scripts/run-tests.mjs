// Runs Node's test runner over every `*.test.ts` under the folders given (Node 20 has no --test
// globs). Folders that are suites of their own (reliability, contract) and helpers (support,
// fixtures) are skipped unless named directly. Usage: node scripts/run-tests.mjs [--concurrency N] DIR...
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SEPARATE = new Set(['reliability', 'contract', 'support', 'fixtures', 'fakes']);
const args = process.argv.slice(2);
let concurrency = '2';
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--concurrency') concurrency = args[++i];
  else dirs.push(args[i]);
}

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SEPARATE.has(name)) collect(path, out);
    } else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = dirs.flatMap((d) => collect(d, []));
if (files.length === 0) {
  process.stderr.write(`no *.test.ts under ${dirs.join(', ')}\n`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
