// The two test tiers. `npm test` runs the fast tier: in-process tests (fakes, mock timers,
// undici's MockAgent, in-process servers, real files), about a minute. `npm run test:e2e` runs the
// process tier: every test file that starts a program (the VIDAX process, the ComfyUI simulator,
// npm, ffmpeg, fixture programs, git), a few minutes. A file's tier follows from what it uses, so
// a new file lands in the right one with no list to keep; CI runs both tiers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What makes a test file process-level: each pattern names a way to start a program. */
export const PROCESS_LEVEL = [
  /from 'node:child_process'/, // spawn, execFile, spawnSync
  /from 'execa'/,
  /scripts\/lib\/spawn\.ts'/, // the one spawn helper
  /support\/(vidax|simulator|spawn|media)\.ts'/, // the VIDAX process, the simulator, spawned programs, ffmpeg
  /from '\.\/contract\//, // the contract scenarios (VIDAX process + simulator)
  /\b(startExternal|fixture)\(/, // fixture programs (test/fixtures/bin)
];

/** `fast` or `e2e` for a test file's source text. */
export function tierOfText(text) {
  return PROCESS_LEVEL.some((re) => re.test(text)) ? 'e2e' : 'fast';
}

/** `fast` or `e2e` for a test file. */
export function tierOf(path) {
  return tierOfText(readFileSync(path, 'utf8'));
}

// Folders that are suites of their own (reliability, contract) and helpers (support, fixtures,
// fakes): skipped unless named directly.
const SEPARATE = new Set(['reliability', 'contract', 'support', 'fixtures', 'fakes']);

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SEPARATE.has(name)) collect(path, out);
    } else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Every `*.test.ts` under the folders given, of one tier (`fast`, `e2e`) or of both (null). */
export function testFiles(dirs, tier = null) {
  return dirs.flatMap((d) => collect(d, [])).filter((f) => tier === null || tierOf(f) === tier);
}
