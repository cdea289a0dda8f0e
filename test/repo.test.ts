// The repository stands alone: a clone holds every file the code imports, and nothing the
// default suite, the scripts or the README use reaches outside it (../shared is for the optional
// real-ComfyUI suite and CI extras only).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const hasGit = existsSync(join(root, '.git'));
const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' });
const tracked = () => git('ls-files', '-z').split('\0').filter(Boolean);

/** Where `../shared` may appear: CI and the optional suite against a real ComfyUI. */
const MAY_REACH_OUT = [/^\.ci\//, /^test\/contract\//, /^test\/repo\.test\.ts$/];

describe('the repository stands alone', { skip: hasGit ? false : 'not a git checkout' }, () => {
  it('no tracked file outside CI and the optional real-ComfyUI suite mentions ../shared', () => {
    const offenders: string[] = [];
    for (const file of tracked()) {
      if (MAY_REACH_OUT.some((re) => re.test(file)) || !existsSync(join(root, file))) continue;
      const text = readFileSync(join(root, file), 'utf8');
      if (/\.\.\/shared|\/work\/shared/.test(text)) offenders.push(file);
    }
    assert.deepEqual(offenders, []);
  });

  it('no source file is hidden from git by .gitignore (a clone would lack it)', () => {
    const dirs = ['adapters', 'bench', 'config', 'docs', 'functions', 'lib', 'schema', 'scripts', 'simulator', 'test'];
    const ignored = git('ls-files', '--others', '--ignored', '--exclude-standard', '--', ...dirs)
      .split('\n')
      .filter((f) => f && !f.startsWith('bench/results/'));
    assert.deepEqual(ignored, []);
  });

  it('every relative import of a tracked file names a tracked file', () => {
    const files = new Set(tracked());
    const missing: string[] = [];
    for (const file of files) {
      if (!/\.(ts|mjs|js)$/.test(file) || !existsSync(join(root, file))) continue;
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = normalize(join(dirname(file), m[1] as string));
        if (!files.has(relative('.', target))) missing.push(`${file} -> ${m[1]}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
