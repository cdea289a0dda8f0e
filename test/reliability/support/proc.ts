// The real VIDAX process (adapters/node.ts from source) over a given runs dir, for the reliability suite.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { freePort } from '../../support/comfyui.ts';
import { TEST_KEY, tempDir } from '../../support/context.ts';
import { type RunningSimulator, startSimulator } from '../../support/simulator.ts';
import { spawnProcess } from '../../../scripts/lib/spawn.ts';
import { ROOT, type Spawned, spawnVidax } from '../../support/spawn.ts';

export const KEY = TEST_KEY;

export interface VidaxProc {
  url: string;
  port: number;
  pid: number;
  proc: Spawned;
  /** SIGKILL, waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/**
 * Spawns VIDAX with a config file in `base` (runs dir `base/runs`, ComfyUI log beside it) and
 * waits for its "listening" line. `config` is merged into the file (e.g. `comfyui`); `env` is
 * added to the process's environment (e.g. a test fault point).
 */
export async function startVidaxProc(base: string, config: Record<string, unknown> = {}, ms = 20_000, env: Record<string, string> = {}): Promise<VidaxProc> {
  mkdirSync(base, { recursive: true });
  const file = join(base, 'vidax.json');
  writeFileSync(file, JSON.stringify({ requestLog: false, runsDir: 'runs', ...config }));
  const port = await freePort();
  const proc = spawnVidax({ ...env, VIDAX_API_KEY: KEY, VIDAX_PORT: String(port), VIDAX_CONFIG: file });
  await proc.waitFor(/listening on http/, ms);
  const pid = proc.child.pid!;
  const dead = () => proc.child.exitCode !== null || proc.child.signalCode !== null;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid,
    proc,
    async kill() {
      if (dead()) return;
      const exited = proc.exit();
      proc.child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (dead()) return;
      const exited = proc.exit();
      proc.child.kill('SIGTERM');
      const t = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Resident set size of `pid` in bytes (VmRSS). */
export function rssOf(pid: number): number {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/**
 * VIDAX as `npm start` runs it in production: request log on, stdout to `logFile` (not into this
 * process's memory), config from `base/vidax.json`. Resolves once it says it listens.
 */
export async function startLoggingVidax(base: string, config: Record<string, unknown>, logFile: string) {
  mkdirSync(base, { recursive: true });
  const file = join(base, 'vidax.json');
  writeFileSync(file, JSON.stringify({ requestLog: true, runsDir: 'runs', ...config }));
  const port = await freePort();
  const proc = spawnProcess(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'adapters', 'node.ts')], {
    cwd: base,
    env: { PATH: process.env.PATH ?? '', VIDAX_API_KEY: KEY, VIDAX_PORT: String(port), VIDAX_CONFIG: file },
    stdoutFile: logFile,
  });
  const child = proc.child;
  try {
    await proc.waitFor(/listening on http/, 20_000);
  } catch {
    child.kill('SIGKILL');
    throw new Error(`VIDAX did not start: ${proc.stderr()}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    child,
    stderr: proc.stderr,
    async stop() {
      await proc.stop(10_000);
    },
  };
}

/**
 * The set-up of a kill -9 suite (call inside its describe): an external simulator that outlives
 * every VIDAX, a temp base dir, and `start()` of VIDAX over it adopting that simulator; after the
 * suite the last VIDAX is killed, the simulator stopped and the base dir removed.
 */
export function crashBed(prefix: string) {
  let sim: RunningSimulator | undefined;
  let base = '';
  let last: VidaxProc | undefined;
  before(async () => {
    sim = await startSimulator();
    base = tempDir(prefix);
  });
  after(async () => {
    await last?.kill();
    await sim?.stop();
    rmSync(base, { recursive: true, force: true });
  });
  return {
    get sim(): RunningSimulator {
      if (!sim) throw new Error('crashBed: the simulator is not up yet');
      return sim;
    },
    get base() {
      return base;
    },
    async start(): Promise<VidaxProc> {
      last = await startVidaxProc(base, { comfyui: { url: this.sim.url, autoStart: false, requestTimeoutMs: 5000, healthTimeoutMs: 1000 } });
      return last;
    },
  };
}
