import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { createTail, openCappedLog } from './capped-log.ts';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** Why it could not run at all (e.g. `spawn python3 ENOENT`). */
  message: string | null;
}

/** A ComfyUI process VIDAX started. */
export interface ManagedChild {
  readonly pid: number | null;
  /** Resolves once the process is gone (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Null while it runs. */
  exit: ExitInfo | null;
  /** Set when VIDAX itself asked it to stop (not a crash). */
  intentional: boolean;
  /** Once it answered health: an exit after that is a crash. */
  wasReady: boolean;
  lastLines(n?: number): string[];
  /** SIGTERM, SIGKILL after the grace delay; resolves when it is gone. */
  terminate(): Promise<ExitInfo>;
}

export interface SpawnOptions {
  command: readonly string[];
  cwd?: string | undefined;
  env: Readonly<Record<string, string>>;
  logFile: string;
  logMaxBytes: number;
  /** Delay between SIGTERM and SIGKILL. */
  graceMs: number;
}

export const pidFileOf = (logFile: string) => `${logFile}.pid`;

/** The pid recorded beside the log by a previous start, if that process still lives. */
export function recordedPid(logFile: string): number | null {
  try {
    const pid = Number(readFileSync(pidFileOf(logFile), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/**
 * Spawns the command with execa: no shell, nothing buffered, stdout+stderr appended to the
 * capped log (and a tail kept for error details).
 */
export function spawnManaged(opts: SpawnOptions): ManagedChild {
  const log = openCappedLog(opts.logFile, opts.logMaxBytes);
  const tail = createTail();
  const cancel = new AbortController();
  const [file = '', ...args] = opts.command;
  const sub = execa(file, args, {
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    env: { ...opts.env },
    extendEnv: true,
    shell: false,
    buffer: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    // Not execa's exit hook: its signal-exit handler re-raises SIGTERM and would cut VIDAX's own
    // graceful shutdown short. VIDAX stops the child in dispose(); if VIDAX dies hard, the
    // child lives on and the next VIDAX adopts it.
    cleanup: false,
    cancelSignal: cancel.signal,
    forceKillAfterDelay: opts.graceMs,
  });
  const pid = sub.pid ?? null;
  log.write(`--- ${new Date().toISOString()} VIDAX started ComfyUI (pid ${pid ?? 'none'}): ${JSON.stringify(opts.command)}\n`);
  if (pid !== null) writeFileSync(pidFileOf(opts.logFile), `${pid}\n`);
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    tail.push(chunk);
  };
  sub.stdout?.on('data', onData);
  sub.stderr?.on('data', onData);

  const child: ManagedChild = {
    pid,
    exit: null,
    intentional: false,
    wasReady: false,
    lastLines: (n) => tail.lines(n),
    exited: sub.then(
      (r) => ({
        code: r.exitCode ?? null,
        signal: r.signal ?? null,
        message: r.exitCode === undefined && r.signal === undefined ? (r.originalMessage ?? r.shortMessage ?? null) : null,
      }),
      (err: unknown) => ({ code: null, signal: null, message: String(err) }),
    ).then((exit) => {
      child.exit = exit;
      if (exit.message) tail.push(`${exit.message}\n`);
      log.write(`--- ${new Date().toISOString()} ComfyUI (pid ${pid ?? 'none'}) exited: code ${exit.code} signal ${exit.signal}\n`);
      log.close();
      try {
        if (pid !== null && readFileSync(pidFileOf(opts.logFile), 'utf8').trim() === String(pid)) rmSync(pidFileOf(opts.logFile));
      } catch {
        // already gone
      }
      return exit;
    }),
    terminate() {
      child.intentional = true;
      if (child.exit === null) cancel.abort();
      return child.exited;
    },
  };
  return child;
}
