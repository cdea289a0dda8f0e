import { setTimeout as sleep } from 'node:timers/promises';
import type { ComfyUIConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ComfyUIClient } from './client.ts';
import { ComfyUIError } from './errors.ts';
import { probeHealth, type ComfyUIHealth, type ManagerPhase } from './health.ts';
import { adoptManaged, type ExitInfo, type ManagedChild, recordedPid, recordedProcess, spawnManaged } from './spawn.ts';

export interface Ensured {
  url: string;
  /**
   * True when VIDAX started this ComfyUI, this process or a previous one whose pid file it
   * re-adopted (false: adopted, never killed by VIDAX).
   */
  managed: boolean;
  pid: number | null;
}

export interface CrashInfo {
  /** One line for events and errors, e.g. `ComfyUI (pid 123) exited unexpectedly: killed by SIGKILL`. */
  message: string;
  pid: number | null;
  exit_code: number | null;
  signal: string | null;
  last_lines: string[];
  /** Whether a restart is scheduled. */
  restarting: boolean;
}

export interface ProcessManager {
  /** Healthy ComfyUI or a ComfyUIError (COMFYUI_START_FAILED / COMFYUI_TIMEOUT). Concurrent callers share one start. */
  ensureComfyUI(): Promise<Ensured>;
  /** A probe answered within about healthTimeoutMs, whatever ComfyUI does. */
  health(): Promise<ComfyUIHealth>;
  /** Called when a managed ComfyUI that was ready exits unexpectedly. */
  onCrash(listener: (info: CrashInfo) => void): () => void;
  /**
   * Takes over a managed ComfyUI a previous VIDAX started and left running (found through its
   * pid file): watched for crashes, restarted, stopped like one this process started. Returns
   * its pid, or null when there is none. `ensureComfyUI` does this too.
   */
  adoptPrevious(): number | null;
  /** Stops a ComfyUI that VIDAX started (SIGTERM to its group, then SIGKILL); adopted ones are left alone. */
  stop(): Promise<void>;
  /**
   * On VIDAX shutdown: with `comfyui.stopOnExit` stops a managed ComfyUI like `stop()`; otherwise
   * stops watching it and leaves it running (its pid file stays) for the next VIDAX to re-adopt.
   */
  close(): Promise<void>;
}

export interface ProcessManagerOptions {
  config: ComfyUIConfig;
  client: ComfyUIClient;
  log: Logger;
  /** Delay between SIGTERM and SIGKILL (default 5000). */
  graceMs?: number;
  /** Readiness poll interval (default 200, at most 250). */
  pollMs?: number;
  /** A crash after this long healthy resets the restart counter (default one hour). */
  restartResetMs?: number;
}

/** What happens to a managed ComfyUI, as the manager sees it. */
export type ManagerEvent = 'spawned' | 'answered' | 'killed_unready' | 'exited' | 'start_failed' | 'stopped';

/**
 * The manager's states (`idle` until the first start or adoption) and what moves them: each
 * event names the states it applies in and the state it leads to; in any other state it changes
 * nothing. `GET /comfyui/health` reports the state (lib/comfyui/health.ts).
 */
export const PHASE_TRANSITIONS: Readonly<Record<ManagerEvent, { from: readonly ManagerPhase[] | 'any'; to: ManagerPhase }>> = {
  spawned: { from: 'any', to: 'starting' }, // start(): a child of ours is launched
  answered: { from: 'any', to: 'ready' }, // ours answered, or one already running was adopted
  killed_unready: { from: 'any', to: 'stopped' }, // ours did not become ready in time and was killed
  exited: { from: 'any', to: 'crashed' }, // ours exited without being asked to
  start_failed: { from: ['starting'], to: 'crashed' }, // a start that threw while still starting
  stopped: { from: 'any', to: 'stopped' }, // stop(): ours was terminated on purpose
};

/** The state after `event` in `phase` (PHASE_TRANSITIONS). */
export function nextPhase(phase: ManagerPhase, event: ManagerEvent): ManagerPhase {
  const t = PHASE_TRANSITIONS[event];
  return t.from === 'any' || t.from.includes(phase) ? t.to : phase;
}

export function createProcessManager({ config, client, log, graceMs = 5_000, pollMs = 200, restartResetMs = 3_600_000 }: ProcessManagerOptions): ProcessManager {
  const url = client.url;
  const crashListeners = new Set<(info: CrashInfo) => void>();
  let child: ManagedChild | null = null;
  let phase: ManagerPhase = 'idle';
  const on = (event: ManagerEvent) => {
    phase = nextPhase(phase, event);
  };
  let inflight: Promise<Ensured> | null = null;
  let restarts = 0;
  let readySince = 0;
  let restartTimer: NodeJS.Timeout | null = null;
  let stopRequested = false;
  let released = false;

  const alive = (c: ManagedChild | null): c is ManagedChild => c !== null && c.exit === null;
  const probe = (timeoutMs = config.healthTimeoutMs) =>
    client.systemStats({ timeoutMs }).then(() => null, (err: ComfyUIError) => err);

  function startFailed(c: ManagedChild, exit: ExitInfo): ComfyUIError {
    const how = exit.message ?? (exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`);
    return new ComfyUIError('COMFYUI_START_FAILED', `ComfyUI ${how} before it became ready`, {
      details: { exit_code: exit.code, signal: exit.signal, last_lines: c.lastLines(), log_file: config.logFile },
    });
  }

  /** Waits until `c` answers; past the deadline kills it (if `kill`) and fails COMFYUI_TIMEOUT. */
  async function waitReady(c: ManagedChild, deadline: number, kill: boolean): Promise<Ensured> {
    for (;;) {
      if (c.exit) throw startFailed(c, c.exit);
      const left = deadline - Date.now();
      if (left > 0 && (await probe(Math.max(50, Math.min(config.healthTimeoutMs, left)))) === null) {
        c.wasReady = true;
        on('answered');
        readySince = Date.now();
        log.info('comfyui ready', { url, pid: c.pid });
        return { url, managed: true, pid: c.pid };
      }
      if (c.exit) throw startFailed(c, c.exit);
      if (Date.now() >= deadline) {
        const details = { timeout_ms: config.startTimeoutMs, pid: c.pid, last_lines: c.lastLines(), log_file: config.logFile };
        if (kill) {
          log.error('comfyui did not become ready; killing it', details);
          await c.terminate();
          on('killed_unready');
        }
        throw new ComfyUIError('COMFYUI_TIMEOUT', `ComfyUI did not become ready within ${config.startTimeoutMs} ms`, { details });
      }
      await Promise.race([sleep(Math.min(pollMs, 250)), c.exited]);
    }
  }

  function onExit(c: ManagedChild, exit: ExitInfo): void {
    if (child === c) child = null;
    if (released) return; // VIDAX let it go at shutdown: its exit is the next VIDAX's business
    if (c.intentional) {
      log.info('comfyui stopped', { pid: c.pid, exit_code: exit.code, signal: exit.signal });
      return;
    }
    on('exited');
    if (!c.wasReady) return; // a failed start: its caller gets COMFYUI_START_FAILED
    if (readySince && Date.now() - readySince >= restartResetMs) restarts = 0;
    const restarting = scheduleRestart();
    const how = exit.signal ? `killed by ${exit.signal}` : exit.code !== null ? `exit code ${exit.code}` : 'exited (re-adopted: no exit status)';
    const message = `ComfyUI (pid ${c.pid}) exited unexpectedly: ${how}`;
    const info: CrashInfo = { message, pid: c.pid, exit_code: exit.code, signal: exit.signal, last_lines: c.lastLines(), restarting };
    log.error('comfyui exited unexpectedly', { ...info });
    for (const l of crashListeners) {
      try {
        l(info);
      } catch (err) {
        log.error('comfyui crash listener failed', { error: String(err) });
      }
    }
  }

  function scheduleRestart(): boolean {
    if (!config.restart.enabled || stopRequested || restartTimer) return false;
    if (restarts >= config.restart.maxRestarts) {
      log.error('comfyui restart limit reached; not restarting', { restarts });
      return false;
    }
    const wait = Math.min(config.restart.backoffMs * 2 ** restarts, config.restart.maxBackoffMs);
    restarts += 1;
    log.warn('restarting comfyui', { in_ms: wait, attempt: restarts, max: config.restart.maxRestarts });
    restartTimer = setTimeout(() => {
      restartTimer = null;
      if (stopRequested) return;
      single().catch((err: Error) => {
        log.error('comfyui restart failed', { error: err.message });
        scheduleRestart();
      });
    }, wait);
    restartTimer.unref();
    return true;
  }

  async function start(): Promise<Ensured> {
    if (restartTimer) clearTimeout(restartTimer);
    restartTimer = null;
    on('spawned');
    released = false;
    const c = spawnManaged({ ...config, graceMs });
    child = c;
    void c.exited.then((exit) => onExit(c, exit));
    log.info('starting comfyui', { command: config.command, pid: c.pid, log_file: config.logFile });
    try {
      return await waitReady(c, Date.now() + config.startTimeoutMs, true);
    } catch (err) {
      on('start_failed');
      throw err;
    }
  }

  function adoptPrevious(): number | null {
    if (alive(child)) return child.pid;
    const rec = recordedProcess(config.logFile);
    if (rec === null) return null;
    const c = adoptManaged(rec, { logFile: config.logFile, logMaxBytes: config.logMaxBytes, graceMs });
    child = c;
    released = false;
    void c.exited.then((exit) => onExit(c, exit));
    log.info('re-adopted the managed comfyui a previous VIDAX started', { pid: rec.pid, url });
    return rec.pid;
  }

  async function ensure(): Promise<Ensured> {
    adoptPrevious();
    if ((await probe()) === null) {
      if (alive(child)) {
        if (!child.wasReady) {
          child.wasReady = true; // a re-adopted one: from now on its exit is a crash
          on('answered');
          readySince = Date.now();
        }
        return { url, managed: true, pid: child.pid };
      }
      if (phase !== 'ready') log.info('comfyui already running; adopting it', { url });
      on('answered');
      return { url, managed: false, pid: recordedPid(config.logFile) };
    }
    // Our own process is up but not answering (busy or hung): wait for it, never kill it here.
    if (alive(child)) return waitReady(child, Date.now() + config.startTimeoutMs, false);
    if (!config.autoStart) {
      throw new ComfyUIError('COMFYUI_START_FAILED', `ComfyUI is not answering at ${url} and comfyui.autoStart is false; start it yourself or set comfyui.autoStart to true`, {
        details: { url, auto_start: false },
      });
    }
    return start();
  }

  async function stop(): Promise<void> {
    stopRequested = true;
    if (restartTimer) clearTimeout(restartTimer);
    restartTimer = null;
    const c = child;
    if (alive(c)) {
      log.info('stopping comfyui', { pid: c.pid });
      await c.terminate();
      on('stopped');
    }
    await inflight?.catch(() => {});
  }

  const single = (): Promise<Ensured> => {
    inflight ??= ensure().finally(() => {
      inflight = null;
    });
    return inflight;
  };

  return {
    ensureComfyUI() {
      stopRequested = false;
      return single();
    },
    adoptPrevious,
    health: () =>
      probeHealth({ client, url, timeoutMs: config.healthTimeoutMs, phase, autoStart: config.autoStart, restarts, logFile: config.logFile,
        managedPid: alive(child) ? child.pid : null }),
    onCrash(listener) {
      crashListeners.add(listener);
      return () => {
        crashListeners.delete(listener);
      };
    },
    stop,
    async close() {
      if (config.stopOnExit) return stop();
      stopRequested = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = null;
      const c = child; // even one still starting: the next VIDAX re-adopts it
      if (alive(c)) {
        released = true;
        c.release();
        child = null;
        log.info('leaving comfyui running for the next VIDAX (comfyui.stopOnExit is false)', { pid: c.pid });
      }
    },
  };
}
