import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The import graph that keeps the architecture: lib/ (the core) imports neither functions/ nor
 * adapters/ nor the HTTP adapter's package; functions/ never imports adapters/; the simulator is
 * a program of its own and imports nothing outside simulator/.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ADAPTER_PACKAGE = '@whatwg-node/server';

const IMPORT = /(?:^|[;\s])(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every module specifier a TypeScript source imports or re-exports (static and dynamic). */
export function specifiers(source: string): string[] {
  return [...source.matchAll(IMPORT)].map((m) => (m[1] ?? m[2]) as string);
}

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) tsFiles(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

interface Edge {
  from: string;
  /** Repo-relative path for a relative import, else the package name as written. */
  to: string;
  local: boolean;
}

function edgesOf(folder: string): Edge[] {
  const edges: Edge[] = [];
  for (const file of tsFiles(join(ROOT, folder))) {
    const from = relative(ROOT, file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const local = spec.startsWith('.');
      edges.push({ from, to: local ? relative(ROOT, resolve(dirname(file), spec)) : spec, local });
    }
  }
  return edges;
}

const under = (folder: string) => (e: Edge) => e.local && (e.to === folder || e.to.startsWith(`${folder}/`));
const show = (edges: Edge[]) => edges.map((e) => `${e.from} -> ${e.to}`);

describe('import graph', () => {
  it('reads static, type-only, re-export and dynamic imports', () => {
    // Written with `~` for `.` so that test/repo.test.ts's own import scan does not read these as imports.
    const src = `import a from '~/a.ts';\nimport type { B } from "~~/b.ts";\nexport { c } from '~/c.ts';\nimport '~/side.ts';\nconst d = await import('~/d.ts');\nimport {\n  e,\n} from 'pkg';`.replaceAll('~', '.');
    assert.deepEqual(specifiers(src), ['./a.ts', '../b.ts', './c.ts', './side.ts', './d.ts', 'pkg']);
  });

  const lib = edgesOf('lib');
  const functions = edgesOf('functions');
  const simulator = edgesOf('simulator');

  it('sees the imports it polices', () => {
    assert.ok(lib.some((e) => e.to === 'lib/errors.ts'), 'lib/ imports lib/errors.ts somewhere');
    assert.ok(functions.some((e) => e.to === 'lib/http/function.ts'));
    assert.ok(simulator.some((e) => e.to === 'simulator/args.ts'));
    assert.ok(edgesOf('adapters').some((e) => e.to === ADAPTER_PACKAGE), 'the adapter layer is where the package lives');
  });

  it('lib/ imports neither functions/ nor adapters/ nor the HTTP adapter package', () => {
    assert.deepEqual(show(lib.filter(under('functions'))), []);
    assert.deepEqual(show(lib.filter(under('adapters'))), []);
    assert.deepEqual(show(lib.filter((e) => e.to === ADAPTER_PACKAGE || e.to.startsWith(`${ADAPTER_PACKAGE}/`))), []);
  });

  it('functions/ never imports adapters/', () => {
    assert.deepEqual(show(functions.filter(under('adapters'))), []);
  });

  it('the simulator imports nothing from lib/ (nor anything outside simulator/)', () => {
    assert.deepEqual(show(simulator.filter(under('lib'))), []);
    assert.deepEqual(show(simulator.filter((e) => e.local && !under('simulator')(e))), []);
  });

  it('every lib/ folder has a README.md saying what it owns', () => {
    const folders = readdirSync(join(ROOT, 'lib')).filter((name) => statSync(join(ROOT, 'lib', name)).isDirectory());
    assert.ok(folders.length >= 6);
    const bare = folders.filter((name) => {
      const readme = join(ROOT, 'lib', name, 'README.md');
      return !existsSync(readme) || !readFileSync(readme, 'utf8').startsWith(`# lib/${name} `);
    });
    assert.deepEqual(bare, []);
  });
});
