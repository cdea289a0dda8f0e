import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `re` in stderr+stdout, or rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns the VIDAX Node adapter from source (as `npm start` runs the bundle of it). */
export function spawnVidax(env: Record<string, string>, cwd = ROOT): Spawned {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'adapters', 'node.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => { out += d; });
  child.stderr?.on('data', (d) => { err += d; });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitFor(re, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = (err + out).match(re);
        if (m) return m;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`did not see ${re} (exit ${child.exitCode}):\n${err}\n${out}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    exit: () => exited,
  };
}
