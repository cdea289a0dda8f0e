import { join } from 'node:path';
import { type Spawned, spawnProcess } from '../../scripts/lib/spawn.ts';

export type { Spawned };
export const ROOT = join(import.meta.dirname, '..', '..');

/** Spawns the VIDAX Node adapter from source (as `npm start` runs the bundle of it). */
export function spawnVidax(env: Record<string, string>, cwd = ROOT): Spawned {
  return spawnProcess(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'adapters', 'node.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...env },
  });
}

/**
 * `npm <args>` in the repo as a user runs it from a terminal: in its own process group (so a
 * test can signal the whole group like Ctrl-C or systemd) with the parent's environment + `env`.
 */
export function spawnNpm(args: string[], env: Record<string, string> = {}): Spawned {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIDAX_') && !k.startsWith('SIM_')));
  return spawnProcess('npm', args, { cwd: ROOT, env: { ...base, ...env }, detached: true });
}
