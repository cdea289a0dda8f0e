/**
 * The one way tests, benches and scripts start a child process: execa (argv, never a shell),
 * its output collected, `waitFor` woken by the output itself (no polling loop), `stop` as
 * SIGTERM then SIGKILL after a grace period, and the process group signalled for `detached`.
 */
import type { ChildProcess } from 'node:child_process';
import { execa } from 'execa';

export interface SpawnOptions {
  cwd?: string;
  /** The child's whole environment (the parent's is not inherited unless passed). */
  env?: Record<string, string | undefined>;
  /** A session and process group of its own (`signalGroup` reaches every process in it). */
  detached?: boolean;
  /** Append stdout to this file instead of collecting it (e.g. a server's request log). */
  stdoutFile?: string;
  /** Append stderr to this file instead of collecting it. */
  stderrFile?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Spawned {
  /** The child process (execa's subprocess is one). */
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved, as they came. */
  output(): string;
  /** The first match of `re` in the output; rejects if the process exits first, or after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  exit(): Promise<Exit>;
  /** Whether it is still running. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<Exit>;
  /** Sends `signal` to the whole process group (`detached` only; a gone group is ignored). */
  signalGroup(signal: NodeJS.Signals): void;
}

export function spawnProcess(file: string, args: readonly string[], opts: SpawnOptions = {}): Spawned {
  const child = execa(file, args, {
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    env: opts.env ?? {},
    extendEnv: false,
    detached: opts.detached ?? false,
    stdin: 'ignore',
    stdout: opts.stdoutFile ? { file: opts.stdoutFile, append: true } : 'pipe',
    stderr: opts.stderrFile ? { file: opts.stderrFile, append: true } : 'pipe',
    buffer: false,
    reject: false,
    cleanup: !opts.detached,
  });
  let out = '';
  let err = '';
  let both = '';
  const watchers = new Set<() => void>();
  const wake = () => {
    for (const w of watchers) w();
  };
  child.stdout?.on('data', (d: Buffer) => {
    out += d;
    both += d;
    wake();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d;
    both += d;
    wake();
  });
  let done = false;
  const exited: Promise<Exit> = child.then(
    (r) => {
      done = true;
      wake();
      return { code: r.exitCode ?? null, signal: (r.signal as NodeJS.Signals | undefined) ?? null };
    },
    () => {
      done = true;
      wake();
      return { code: null, signal: null };
    },
  );

  return {
    child: child as unknown as ChildProcess,
    pid: child.pid ?? 0,
    stdout: () => out,
    stderr: () => err,
    output: () => both,
    exited,
    exit: () => exited,
    running: () => !done,
    waitFor(re, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = both.match(re);
          if (m) finish(() => resolve(m));
          else if (done) finish(() => reject(new Error(`did not see ${re} before exit (${child.exitCode ?? child.signalCode}):\n${both.slice(-4000)}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`did not see ${re} within ${ms} ms:\n${both.slice(-4000)}`))), ms);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          watchers.delete(check);
          settle();
        };
        watchers.add(check);
        check();
      });
    },
    async stop(graceMs = 5000) {
      if (done) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
    signalGroup(signal) {
      try {
        process.kill(-(child.pid ?? 0), signal);
      } catch {
        // the group is gone
      }
    },
  };
}
