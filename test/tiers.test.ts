// The two test tiers (scripts/test-tiers.mjs): together they are every test file, each file is
// in one, and CI and the README run both (issue 11: `npm test` fast, the process suites in
// `npm run test:e2e`, CI runs both, on Node 24 too).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testFiles, tierOf, tierOfText } from '../scripts/test-tiers.mjs';

const ROOT = join(import.meta.dirname, '..');
const TEST = join(ROOT, 'test');
const rel = (files: string[]) => files.map((f) => f.slice(ROOT.length + 1));

describe('test tiers', () => {
  it('the fast and the process tier together are every test file, each file in exactly one', () => {
    const all = rel(testFiles([TEST]));
    const fast = rel(testFiles([TEST], 'fast'));
    const e2e = rel(testFiles([TEST], 'e2e'));
    assert.ok(fast.length >= 20 && e2e.length >= 20, `fast ${fast.length}, e2e ${e2e.length}`);
    assert.deepEqual([...fast, ...e2e].sort(), [...all].sort());
    assert.deepEqual(fast.filter((f) => e2e.includes(f)), []);
  });

  it('a file that starts a program is in the process tier; in-process tests are fast', () => {
    // Import lines built from path segments, so that this file's own text reads neither as
    // process-level (scripts/test-tiers.mjs) nor as imports (test/repo.test.ts).
    const line = (...segments: string[]) => `import { x } from '${segments.join('/')}';`;
    const processLevel = [
      line('node:child_process'), line('execa'), line('..', 'support', 'simulator.ts'), line('..', 'support', 'vidax.ts'),
      line('..', 'support', 'media.ts'), line('..', '..', 'scripts', 'lib', 'spawn.ts'), line('.', 'contract', 'scenarios.ts'),
    ];
    for (const text of processLevel) assert.equal(tierOfText(text), 'e2e', text);
    for (const text of [line('node:fs'), line('..', 'fakes', 'run-store.ts'), line('..', 'support', 'context.ts'), line('supertest')]) {
      assert.equal(tierOfText(text), 'fast', text);
    }
    assert.equal(tierOf(join(TEST, 'runner', 'decisions.test.ts')), 'fast');
    assert.equal(tierOf(join(TEST, 'contract-simulator.test.ts')), 'e2e');
    assert.equal(tierOf(join(TEST, 'demo.test.ts')), 'e2e');
    assert.equal(tierOf(join(TEST, 'tiers.test.ts')), 'fast');
  });

  it('npm test is lint + typecheck + the fast tier; test:e2e the process tier', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(scripts.test ?? '', /npm run --silent lint && npm run --silent typecheck && npm run --silent test:fast$/);
    assert.match(scripts['test:fast'] ?? '', /run-tests\.mjs --tier fast test$/);
    assert.match(scripts['test:e2e'] ?? '', /run-tests\.mjs --tier e2e test$/);
  });

  it('CI runs both tiers, on the machine\'s Node and on Node 24', () => {
    const lines = readFileSync(join(ROOT, '.ci', 'run'), 'utf8').split('\n').filter((l) => !l.trimStart().startsWith('#'));
    assert.ok(lines.includes('npm test'), 'npm test');
    assert.ok(lines.includes('npm run test:e2e'), 'npm run test:e2e');
    for (const tier of ['test:fast', 'test:e2e']) {
      assert.ok(lines.some((l) => l.includes('node24') && l.includes(`npm run --silent ${tier}`)), `${tier} on Node 24`);
    }
  });

  it('the README\'s first test command runs both tiers, as CI does', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const firstBlock = readme.slice(readme.indexOf('```sh'), readme.indexOf('```', readme.indexOf('```sh') + 5));
    assert.match(firstBlock, /^npm test && npm run test:e2e\s+#/m);
  });
});
