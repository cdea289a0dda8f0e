/** The manifest of a run (`<runsDir>/<run_id>/manifest.json`): its types and its first state. */
import type { RunError } from '../errors.ts';

export type { RunError };
import type { InputEntry } from '../inputs/types.ts';

export const PHASES = ['prepare', 'comfyui', 'stabilize', 'lipsync', 'encode'] as const;
export type PhaseName = (typeof PHASES)[number];
export type PhaseStatus = 'queued' | 'running' | 'completed' | 'failed' | 'skipped';
export type RunStatus = 'queued' | 'running' | 'completed' | 'failed';
/** How a run ended; null until it does (never `queued` or `running`). */
export type ExitStatus = 'success' | 'partial' | 'failed';

/** One phase: the common fields plus phase-specific ones (prompt_id, progress, media, …). */
export interface PhaseState {
  status: PhaseStatus;
  started_at: string | null;
  finished_at: string | null;
  error: RunError | null;
  [extra: string]: unknown;
}

export interface Artifact {
  /** Relative to the workdir. */
  path: string;
  bytes: number;
  sha256: string;
  phase: string;
  /** ComfyUI's own file name, when `path`'s had to be shortened (over 200 bytes). */
  original_name?: string;
}

export interface Manifest {
  run_id: string;
  created_at: string;
  updated_at: string;
  run_status: RunStatus;
  exit_status: ExitStatus | null;
  name: string | null;
  metadata: Record<string, unknown> | null;
  /** Absolute path of the run directory. */
  workdir: string;
  phases: Record<PhaseName, PhaseState>;
  artifacts: Artifact[];
  /** The run's input files, `<workdir>/inputs/<name>` (absent in manifests older than inputs). */
  inputs?: InputEntry[];
  error: RunError | null;
  [extra: string]: unknown;
}

export const isTerminal = (status: RunStatus) => status === 'completed' || status === 'failed';

export function newManifest(
  runId: string,
  workdir: string,
  job: { name?: string | undefined; metadata?: Record<string, unknown> | undefined; webhook?: unknown },
  now = new Date(),
): Manifest {
  const ts = now.toISOString();
  const phase = (): PhaseState => ({ status: 'queued', started_at: null, finished_at: null, error: null });
  return {
    run_id: runId,
    created_at: ts,
    updated_at: ts,
    run_status: 'queued',
    exit_status: null,
    name: job.name ?? null,
    metadata: job.metadata ? structuredClone(job.metadata) : null,
    workdir,
    phases: { prepare: phase(), comfyui: phase(), stabilize: phase(), lipsync: phase(), encode: phase() },
    artifacts: [],
    error: null,
    ...(job.webhook ? { webhooks: [] } : {}), // deliveries of the job's webhook (lib/webhooks/)
  };
}

/** Freezes a manifest deeply (cached manifests are shared; mutate only inside `update`). */
export function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || Object.isFrozen(v)) continue;
    Object.freeze(v);
    for (const child of Object.values(v)) stack.push(child);
  }
  return value;
}
