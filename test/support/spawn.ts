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
  return watch(spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'adapters', 'node.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
}

/**
 * `npm <args>` in the repo as a user runs it from a terminal: in its own process group (so a
 * test can signal the whole group like Ctrl-C or systemd) with the parent's environment + `env`.
 */
export function spawnNpm(args: string[], env: Record<string, string> = {}): Spawned & { signalGroup(signal: NodeJS.Signals): void } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIDAX_') && !k.startsWith('SIM_')));
  const child = spawn('npm', args, { cwd: ROOT, env: { ...base, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    ...watch(child),
    signalGroup(signal) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // the group is gone
      }
    },
  };
}

function watch(child: ChildProcess): Spawned {
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
