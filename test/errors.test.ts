import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERRORS, VidaxError, vidaxError } from '../lib/errors.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}
const serverSources = ['lib', 'functions', 'adapters'].flatMap((d) => sources(d));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** `code -> status` of the README's error table (rows `| \`code\` | status | …`). */
function readmeCodes(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const m of read('README.md').matchAll(/^\| `([A-Za-z_]+)` \| (\d{3}) \|/gm)) rows.set(m[1] as string, Number(m[2]));
  return rows;
}

describe('error catalogue', () => {
  it('the README lists every code with its status, and no code the catalogue lacks', () => {
    const catalogue = new Map(Object.entries(ERRORS).map(([code, e]) => [code, e.status as number]));
    assert.deepEqual(Object.fromEntries(readmeCodes()), Object.fromEntries(catalogue));
  });

  it('every catalogued code is used by the server (no dead codes)', () => {
    const text = serverSources.filter((p) => p !== 'lib/errors.ts').map(read).join('\n') + read('lib/errors.ts').split('export type ErrorCode')[1];
    const dead = Object.keys(ERRORS).filter((code) => !text.includes(`'${code}'`));
    assert.deepEqual(dead, []);
  });

  it('errors are built from the catalogue: no `new VidaxError(` outside lib/errors.ts', () => {
    const offenders = serverSources.filter((p) => p !== 'lib/errors.ts' && read(p).includes('new VidaxError('));
    assert.deepEqual(offenders.map((p) => relative(ROOT, join(ROOT, p))), []);
  });

  it('takes the status from the catalogue and keeps the codes clients already see', () => {
    const e = vidaxError('run_already_started', 'run r is running', { details: { a: 1 } });
    assert.ok(e instanceof VidaxError);
    assert.equal(e.status, 409);
    assert.deepEqual(e.toRunError(), { code: 'run_already_started', message: 'run r is running', details: { a: 1 } });
    for (const code of ['validation_failed', 'COMFYUI_TIMEOUT', 'COMFYUI_START_FAILED', 'run_not_found', 'RUNNER_ERROR']) {
      assert.ok(code in ERRORS, code);
    }
    assert.equal('VIDAX_STOPPED' in ERRORS, false);
  });
});
