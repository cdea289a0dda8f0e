import type { CrashInfo, Ensured, ProcessManager } from '../../lib/comfyui/process-manager.ts';
import type { ComfyUIHealth } from '../../lib/comfyui/health.ts';

/** The process manager without a process: `ensureComfyUI` answers or rejects with `startError`; `crash()` tells the listeners. */
export class FakeProcessManager implements ProcessManager {
  startError: Error | null = null;
  ensured = 0;
  stopped = false;
  closed = false;
  private readonly crashListeners = new Set<(info: CrashInfo) => void>();

  /** When set, ensureComfyUI waits for it (a ComfyUI that takes its time to start). */
  startGate: Promise<void> | null = null;

  async ensureComfyUI(): Promise<Ensured> {
    this.ensured++;
    if (this.startGate) await this.startGate;
    if (this.startError) throw this.startError;
    return { url: 'http://comfyui.fake:8188', managed: true, pid: 4242 };
  }
  async health(): Promise<ComfyUIHealth> {
    return { ok: true, url: 'http://comfyui.fake:8188', managed: true, pid: 4242, status: 'ready', latency_ms: 1, restarts: 0, log_file: '/dev/null' };
  }
  onCrash(listener: (info: CrashInfo) => void): () => void {
    this.crashListeners.add(listener);
    return () => this.crashListeners.delete(listener);
  }
  adoptPrevious(): number | null {
    return null;
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  async close(): Promise<void> {
    this.closed = true;
  }

  // The test's side.
  crash(message = 'ComfyUI (pid 4242) exited unexpectedly: killed by SIGKILL'): void {
    for (const l of this.crashListeners) l({ message, pid: 4242, exit_code: null, signal: 'SIGKILL', last_lines: [], restarting: false });
  }
}
