import { closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { formatRecord, isRunning, type ProcessRecord, readLiveRecord, recordOf } from '../proc.ts';
import { appendLogLine, openLogForChild, rotateIfOver, tailLines } from './capped-log.ts';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** Why it could not run at all (e.g. `spawn python3 ENOENT`), or why no status is known. */
  message: string | null;
}

/** A ComfyUI process VIDAX manages: spawned by this VIDAX, or re-adopted from a previous one. */
export interface ManagedChild {
  readonly pid: number | null;
  /** False when re-adopted through the pid file a previous VIDAX wrote (no exit status then). */
  readonly spawned: boolean;
  /** Resolves once the process is gone (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Null while it runs. */
  exit: ExitInfo | null;
  /** Set when VIDAX itself asked it to stop (not a crash). */
  intentional: boolean;
  /** Once it answered health: an exit after that is a crash. */
  wasReady: boolean;
  lastLines(n?: number): string[];
  /** SIGTERM to its process group, SIGKILL after the grace delay; resolves when it is gone. */
  terminate(): Promise<ExitInfo>;
  /** Stops watching it and leaves it running (VIDAX exits; the next VIDAX re-adopts it). */
  release(): void;
}

export interface SpawnOptions {
  command: readonly string[];
  cwd?: string | undefined;
  /** `comfyui.env`: added to VIDAX's environment minus every `VIDAX_*` variable. */
  env: Readonly<Record<string, string>>;
  logFile: string;
  logMaxBytes: number;
  /** Delay between SIGTERM and SIGKILL. */
  graceMs: number;
  /** The environment to start from (default: this process's). */
  baseEnv?: Readonly<Record<string, string | undefined>>;
}

export const pidFileOf = (logFile: string) => `${logFile}.pid`;

/** The ComfyUI a previous start recorded beside the log, if that very process still runs. */
export function recordedProcess(logFile: string): ProcessRecord | null {
  return readLiveRecord(pidFileOf(logFile));
}

export const recordedPid = (logFile: string): number | null => recordedProcess(logFile)?.pid ?? null;

/** What ComfyUI gets: VIDAX's environment without `VIDAX_*` (the API key stays in VIDAX), plus `extra`. */
export function childEnv(base: Readonly<Record<string, string | undefined>>, extra: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !/^VIDAX_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Signals the process group `pid` leads (a managed ComfyUI is a session leader), else the pid. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** The parts both kinds of managed child share: terminate, release, log rotation, pid file. */
function managed(
  opts: Pick<SpawnOptions, 'logFile' | 'logMaxBytes' | 'graceMs'>,
  pid: number | null,
  spawned: boolean,
  logOffset: number,
  wait: Promise<ExitInfo>,
  unref: () => void,
): ManagedChild {
  const rotation = setInterval(() => rotateIfOver(opts.logFile, opts.logMaxBytes), 1000);
  rotation.unref();
  const child: ManagedChild = {
    pid,
    spawned,
    exit: null,
    intentional: false,
    wasReady: false,
    lastLines: (n) => tailLines(opts.logFile, logOffset, n),
    exited: wait.then((exit) => {
      clearInterval(rotation);
      child.exit = exit;
      if (exit.message) appendLogLine(opts.logFile, exit.message);
      appendLogLine(opts.logFile, `--- ${new Date().toISOString()} ComfyUI (pid ${pid ?? 'none'}) exited: code ${exit.code} signal ${exit.signal}`);
      try {
        if (pid !== null && readFileSync(pidFileOf(opts.logFile), 'utf8').split('\n')[0] === String(pid)) rmSync(pidFileOf(opts.logFile));
      } catch {
        // already gone
      }
      return exit;
    }),
    async terminate() {
      child.intentional = true;
      if (child.exit === null && pid !== null) {
        signalGroup(pid, 'SIGTERM');
        const kill = setTimeout(() => signalGroup(pid, 'SIGKILL'), opts.graceMs);
        kill.unref();
        await child.exited;
        clearTimeout(kill);
      }
      return child.exited;
    },
    release() {
      clearInterval(rotation);
      unref();
    },
  };
  return child;
}

/**
 * Spawns the command with execa: no shell, in a session of its own (so it outlives VIDAX and a
 * Ctrl-C or a group signal aimed at VIDAX never reaches it), its stdout+stderr appended straight
 * to the log file (no pipe through VIDAX that would break when VIDAX exits), its pid and start
 * time written to `<logFile>.pid`.
 */
export function spawnManaged(opts: SpawnOptions): ManagedChild {
  const { fd, offset } = openLogForChild(opts.logFile, opts.logMaxBytes);
  // execa passes any descriptor number to the child as is; its types only spell out 3..9.
  const logFd = fd as 3;
  const [file = '', ...args] = opts.command;
  const sub = execa(file, args, {
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    env: childEnv(opts.baseEnv ?? process.env, opts.env),
    extendEnv: false,
    shell: false,
    detached: true,
    buffer: false,
    stdin: 'ignore',
    stdout: logFd,
    stderr: logFd,
    reject: false,
    // Not execa's exit hook: its signal-exit handler re-raises SIGTERM and would cut VIDAX's own
    // graceful shutdown short; and the child is meant to outlive VIDAX.
    cleanup: false,
  });
  closeSync(fd); // the child holds its own copy
  const pid = sub.pid ?? null;
  appendLogLine(opts.logFile, `--- ${new Date().toISOString()} VIDAX started ComfyUI (pid ${pid ?? 'none'}): ${JSON.stringify(opts.command)}`);
  if (pid !== null) writeFileSync(pidFileOf(opts.logFile), formatRecord(recordOf(pid)));
  const wait = sub.then(
    (r) => ({
      code: r.exitCode ?? null,
      signal: r.signal ?? null,
      message: r.exitCode === undefined && r.signal === undefined ? (r.originalMessage ?? r.shortMessage ?? null) : null,
    }),
    (err: unknown) => ({ code: null, signal: null, message: String(err) }),
  );
  return managed(opts, pid, true, offset, wait, () => sub.unref());
}

/**
 * Takes over the ComfyUI a previous VIDAX started (`record`, from its pid file): not our child,
 * so its exit is noticed by polling every `pollMs` and carries no status.
 */
export function adoptManaged(record: ProcessRecord, opts: Pick<SpawnOptions, 'logFile' | 'logMaxBytes' | 'graceMs'> & { pollMs?: number }): ManagedChild {
  let timer: NodeJS.Timeout | undefined;
  const wait = new Promise<ExitInfo>((resolve) => {
    timer = setInterval(() => {
      if (isRunning(record)) return;
      clearInterval(timer);
      resolve({ code: null, signal: null, message: null });
    }, opts.pollMs ?? 250);
    timer.unref();
  });
  let offset = 0;
  try {
    offset = readFileSync(opts.logFile).length;
  } catch {
    // no log yet
  }
  return managed(opts, record.pid, false, offset, wait, () => clearInterval(timer));
}
