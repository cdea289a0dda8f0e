// Runs Node's test runner over every `*.test.ts` under the folders given (Node 20 has no --test
// globs). Folders that are suites of their own (reliability, contract) and helpers (support,
// fixtures, fakes) are skipped unless named directly. `--tier fast|e2e` keeps only that tier's
// files (scripts/test-tiers.mjs says which is which). Usage: node scripts/run-tests.mjs [--concurrency N] [--tier fast|e2e] DIR...
import { spawnSync } from 'node:child_process';
import { testFiles } from './test-tiers.mjs';

const args = process.argv.slice(2);
let concurrency = '2';
let tier = null;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--concurrency') concurrency = args[++i];
  else if (args[i] === '--tier') tier = args[++i];
  else dirs.push(args[i]);
}
if (tier !== null && tier !== 'fast' && tier !== 'e2e') {
  process.stderr.write(`--tier must be fast or e2e, not ${tier}\n`);
  process.exit(1);
}

const files = testFiles(dirs, tier);
if (files.length === 0) {
  process.stderr.write(`no *.test.ts${tier ? ` of the ${tier} tier` : ''} under ${dirs.join(', ')}\n`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
