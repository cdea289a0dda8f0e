import type { ComfyUIClient } from './client.ts';
import { recordedPid } from './spawn.ts';

export type ComfyUIStatus = 'ready' | 'starting' | 'stopped' | 'crashed' | 'unreachable';
export type ManagerPhase = 'idle' | 'starting' | 'ready' | 'crashed' | 'stopped';

/** The body of `GET /comfyui/health`. */
export interface ComfyUIHealth {
  ok: boolean;
  url: string;
  /** True when the ComfyUI answering is a process VIDAX started. */
  managed: boolean;
  pid: number | null;
  status: ComfyUIStatus;
  latency_ms: number | null;
  version?: string;
  devices?: { name: string; type: string; vram_total: number; vram_free: number }[];
  queue?: { running: number; pending: number };
  /** Restarts after crashes since the last healthy hour. */
  restarts: number;
  log_file: string;
  error?: string;
}

export interface ProbeInput {
  client: ComfyUIClient;
  url: string;
  timeoutMs: number;
  phase: ManagerPhase;
  autoStart: boolean;
  restarts: number;
  logFile: string;
  /** Pid of a running child VIDAX started, else null. */
  managedPid: number | null;
}

/**
 * Asks `/system_stats` and `/queue` at once, each bounded by `timeoutMs`, so the answer comes
 * within about that long even when ComfyUI hangs. When ComfyUI does not answer, the status
 * says what VIDAX knows: its own child is `starting`, `crashed` or `stopped`, or (no child of
 * ours to blame) `unreachable`.
 */
export async function probeHealth(p: ProbeInput): Promise<ComfyUIHealth> {
  const managed = p.managedPid !== null;
  const base = { url: p.url, managed, pid: p.managedPid, restarts: p.restarts, log_file: p.logFile };
  const started = performance.now();
  const statsP = p.client.systemStats({ timeoutMs: p.timeoutMs }).then((stats) => ({ stats, ms: performance.now() - started }));
  const queueP = p.client.queue({ timeoutMs: p.timeoutMs }).catch(() => null);
  try {
    const [{ stats, ms }, queue] = await Promise.all([statsP, queueP]);
    return {
      ok: true,
      ...base,
      pid: p.managedPid ?? recordedPid(p.logFile), // an adopted ComfyUI a previous VIDAX started
      status: 'ready',
      latency_ms: Math.round(ms * 10) / 10,
      ...(typeof stats.system?.comfyui_version === 'string' ? { version: stats.system.comfyui_version } : {}),
      devices: (stats.devices ?? []).map((d) => ({ name: d.name, type: d.type, vram_total: d.vram_total, vram_free: d.vram_free })),
      ...(queue ? { queue: { running: queue.running.length, pending: queue.pending.length } } : {}),
    };
  } catch (err) {
    await queueP;
    let status: ComfyUIStatus = 'unreachable';
    if (p.phase === 'starting') status = 'starting';
    else if (!managed && p.phase === 'crashed') status = 'crashed';
    else if (!managed && (p.phase === 'stopped' || (p.phase === 'idle' && p.autoStart))) status = 'stopped';
    return { ok: false, ...base, status, latency_ms: null, error: err instanceof Error ? err.message : String(err) };
  }
}
