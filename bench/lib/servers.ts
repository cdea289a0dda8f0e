import { execFileSync } from 'node:child_process';
import { START_NODE_FLAGS } from './start-flags.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Target } from './compare.ts';
import { cannon, type LoadSpec } from './load.ts';
import { API_KEY, ROOT, type RunningServer, startServer } from './proc.ts';

export const BUNDLE = join(ROOT, 'dist', 'vidax.mjs');

/** Builds the esbuild bundle that `npm start` runs (once per bench process). */
let built = false;
export function buildBundle(): void {
  if (built) return;
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  built = true;
}

/** A temp workspace: run dirs and the request-log sink of every server live here. */
export function workspace(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `vidax-bench-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** VIDAX as production runs it: the bundle, the shipped config file, request logging on. */
export function startVidax(opts: { runsDir: string; logFile: string; name?: string; nodeArgs?: string[] }): Promise<RunningServer> {
  buildBundle();
  return startServer({
    name: opts.name ?? 'VIDAX',
    argv: [...(opts.nodeArgs ?? START_NODE_FLAGS), BUNDLE],
    env: { VIDAX_RUNS_DIR: opts.runsDir },
    logFile: opts.logFile,
  });
}

export type Peer = 'fastify' | 'bare' | 'bare-files';

export function startPeer(peer: Peer, opts: { logFile: string; env?: Record<string, string> }): Promise<RunningServer> {
  return startServer({
    name: peer === 'fastify' ? 'Fastify' : peer === 'bare-files' ? 'node:http files' : 'node:http',
    argv: [join(ROOT, 'bench', 'peers', `${peer}.mjs`)],
    env: opts.env ?? {},
    logFile: opts.logFile,
  });
}

export const authHeaders = (extra: Record<string, string> = {}) => ({ 'x-api-key': API_KEY, ...extra });

/** An HTTP target measured by autocannon on `path`. */
export function httpTarget(server: RunningServer, path: string, spec: Omit<LoadSpec, 'url' | 'durationS'>): Target {
  return {
    name: server.name,
    measure: (durationS) => cannon({ ...spec, url: `${server.url}${path}`, durationS }),
  };
}

/** Bundles an experimental VIDAX entry from bench/variants/ the way `npm run build` bundles the adapter. */
export function buildVariant(name: string, outDir: string): string {
  const out = join(outDir, `${name}.mjs`);
  execFileSync(
    join(ROOT, 'node_modules', '.bin', 'esbuild'),
    [
      join(ROOT, 'bench', 'variants', `${name}.ts`),
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      `--outfile=${out}`,
      "--banner:js=import{createRequire}from'node:module';const require=createRequire(import.meta.url);",
      '--log-level=warning',
      // adapters/node.ts runs its own main() when it is the entry file; the variant is the entry here.
      '--define:import.meta.url="file:///variant-entry"',
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  return out;
}
