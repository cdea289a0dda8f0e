import type { RunEvent } from './event-log.ts';
import type { FileStream } from '../files/file-stream.ts';
import type { Job } from '../jobs/schema.ts';
import type { JobSummary } from '../jobs/job-parser.ts';
import type { Logger } from '../logger.ts';
import type { InputEntry } from '../inputs/types.ts';
import type { Manifest, RunStatus } from './manifest.ts';

export interface RunPaths {
  workdir: string;
  manifest: string;
  job: string;
  logs: string;
  events: string;
  workflow: string;
  outputs: string;
  final: string;
  /** `<workdir>/inputs`: one file per input, named by the input. */
  inputs: string;
}

/** What `create` writes for a run started in the same request: its claim and its workflow.json. */
export interface StartAtCreate {
  claim(m: Manifest): void;
  workflow: string;
}

export interface CreatedRun {
  run_id: string;
  manifestPath: string;
  workdir: string;
  manifest: Manifest;
}

/** Runs on disk: `<runsDir>/<run_id>/` is the truth; memory holds only a bounded cache. */
export interface RunStore {
  readonly runsDir: string;
  /**
   * Writes job.json, manifest.json (queued) and the `run.created` event; returns once durable.
   * `inputs`: a staging folder of input files, moved to `<workdir>/inputs` in one rename and
   * listed as the manifest's `inputs`. `jobText`: job.json's content (compact JSON of the job,
   * e.g. from the job parser's thread); without it, `job` must be the whole job, written as JSON.
   * `start` (`"start": true`, issue 14): given the minted id, the run's claim (applied to the first
   * manifest, e.g. `running`) and `workflow.json`'s text, written in the same parallel write
   * sequence; a crash before it is all durable leaves a half-created run that `recover()` removes.
   */
  create(
    job: Job | JobSummary,
    jobText?: string | Uint8Array,
    inputs?: { dir: string; entries: InputEntry[] },
    start?: (id: string) => StartAtCreate,
  ): Promise<CreatedRun>;
  /** The manifest (frozen). Throws 404 `run_not_found` / `manifest_not_found`. */
  get(id: string): Promise<Manifest>;
  /** job.json as submitted. Throws 404 `run_not_found` / `job_not_found`. */
  readJob(id: string): Promise<Job>;
  /** Absolute paths of a run's files. Throws 404 `run_not_found` for a malformed id. */
  paths(id: string): RunPaths;
  /**
   * Applies `mutate` to a copy of the manifest and writes it atomically, serialized per run;
   * sets `updated_at`. If `mutate` throws, nothing is written and the error propagates.
   */
  update(id: string, mutate: (m: Manifest) => void | Promise<void>): Promise<Manifest>;
  /** Appends `{ts, seq, type, ...fields}` to logs/events.jsonl; `seq` increases per run. */
  appendEvent(id: string, type: string, fields?: Record<string, unknown>): Promise<RunEvent>;
  /**
   * Manifests of runs newest first (from the in-memory index, never a scan): older than the run
   * `before` names, of `status` if given, at most `limit`; `more` if older ones remain.
   */
  listRuns(opts: { status?: RunStatus | undefined; before?: string | undefined; limit: number }): Promise<{ runs: Manifest[]; more: boolean }>;
  /** Calls `listener` with each event appended to the run from now on, in seq order; returns the unsubscribe. */
  watchEvents(id: string, listener: (event: RunEvent) => void): () => void;
  /** Streams `manifest.json` or `logs/events.jsonl`. Throws 404 run_/manifest_/logs_not_found. */
  openFile(id: string, file: 'manifest' | 'events'): Promise<FileStream>;
  /** Every event of a run (a torn last line is skipped). */
  readEvents(id: string): Promise<RunEvent[]>;
  /** Ids of runs that are queued or running (or only those in `status`), oldest first; no scan of runsDir. */
  listActive(status?: 'queued' | 'running'): Promise<string[]>;
  /** At start-up: removes half-created runs and temp files a crash left, re-syncs the index. */
  recover(): Promise<{ removed: string[]; tempFiles: number }>;
  /** Waits for pending writes. */
  close(): Promise<void>;
}

export interface RunStoreOptions {
  runsDir: string;
  log?: Logger;
  /** Manifests kept in memory (LRU). */
  cacheSize?: number;
  /** Most bytes (of manifest JSON) kept in memory; default 4 MiB (config `manifestCacheBytes`). */
  cacheBytes?: number;
}
