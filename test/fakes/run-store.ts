import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { vidaxError } from '../../lib/errors.ts';
import type { Job } from '../../lib/jobs/schema.ts';
import type { RunEvent } from '../../lib/runs/event-log.ts';
import { deepFreeze, isTerminal, type Manifest, newManifest } from '../../lib/runs/manifest.ts';
import type { CreatedRun, RunPaths, RunStore } from '../../lib/runs/types.ts';
import { tempDir } from '../support/context.ts';

/**
 * The run store in memory: manifests, jobs and events live in maps (updates serialized per run,
 * manifests frozen like the real store's). Each run still gets a real, empty work directory
 * under a temp folder, for the files the runner writes itself (workflow.json, outputs/, final.mp4).
 */
export class FakeRunStore implements RunStore {
  readonly runsDir = tempDir('vidax-fake-runs-');
  readonly manifests = new Map<string, Manifest>();
  readonly jobs = new Map<string, Job>();
  readonly events = new Map<string, RunEvent[]>();
  /** How many manifest writes each run had. */
  readonly writes = new Map<string, number>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private next = 0;

  /** A run in any state: `mutate` shapes its first manifest (e.g. a run a previous process left running). */
  seed(job: Job, mutate: (m: Manifest) => void = () => {}): string {
    const id = `r_${String(1767225600000 + this.next).padStart(13, '0')}_${(this.next++).toString(36)}`;
    mkdirSync(this.paths(id).logs, { recursive: true });
    const m = newManifest(id, this.paths(id).workdir, job);
    mutate(m);
    this.manifests.set(id, deepFreeze(m));
    this.jobs.set(id, structuredClone(job));
    this.events.set(id, []);
    return id;
  }

  eventTypes(id: string): string[] {
    return (this.events.get(id) ?? []).map((e) => e.type);
  }

  private known(id: string): Manifest {
    const m = this.manifests.get(id);
    if (!m) throw vidaxError('run_not_found', `no run ${id}`);
    return m;
  }

  async create(job: Job): Promise<CreatedRun> {
    const id = this.seed(job);
    await this.appendEvent(id, 'run.created');
    return { run_id: id, manifestPath: this.paths(id).manifest, workdir: this.paths(id).workdir, manifest: this.known(id) };
  }
  async get(id: string): Promise<Manifest> {
    return this.known(id);
  }
  async readJob(id: string): Promise<Job> {
    this.known(id);
    return this.jobs.get(id) as Job;
  }
  paths(id: string): RunPaths {
    const workdir = join(this.runsDir, id);
    return {
      workdir,
      manifest: join(workdir, 'manifest.json'),
      job: join(workdir, 'job.json'),
      logs: join(workdir, 'logs'),
      events: join(workdir, 'logs', 'events.jsonl'),
      workflow: join(workdir, 'workflow.json'),
      outputs: join(workdir, 'outputs'),
      final: join(workdir, 'final.mp4'),
      inputs: join(workdir, 'inputs'),
    };
  }
  update(id: string, mutate: (m: Manifest) => void | Promise<void>): Promise<Manifest> {
    const run = (this.chains.get(id) ?? Promise.resolve()).then(async () => {
      const copy = structuredClone(this.known(id)) as Manifest;
      await mutate(copy);
      copy.updated_at = new Date().toISOString();
      this.manifests.set(id, deepFreeze(copy));
      this.writes.set(id, (this.writes.get(id) ?? 0) + 1);
      return copy;
    });
    this.chains.set(id, run.catch(() => {}));
    return run;
  }
  async appendEvent(id: string, type: string, fields: Record<string, unknown> = {}): Promise<RunEvent> {
    const list = this.events.get(id);
    if (!list) throw vidaxError('run_not_found', `no run ${id}`);
    const event: RunEvent = { ts: new Date().toISOString(), seq: list.length + 1, type, ...fields };
    list.push(event);
    for (const listener of this.watchers.get(id) ?? []) listener(event);
    return event;
  }
  async listRuns({ status, before, limit }: { status?: Manifest['run_status'] | undefined; before?: string | undefined; limit: number }) {
    const ids = [...this.manifests.keys()].sort().reverse();
    const older = ids.filter((id) => (before === undefined || id < before) && (status === undefined || this.known(id).run_status === status));
    return { runs: older.slice(0, limit).map((id) => this.known(id)), more: older.length > limit };
  }
  private readonly watchers = new Map<string, Set<(event: RunEvent) => void>>();
  watchEvents(id: string, listener: (event: RunEvent) => void): () => void {
    const set = this.watchers.get(id) ?? new Set();
    this.watchers.set(id, set);
    set.add(listener);
    return () => set.delete(listener);
  }
  async openFile(id: string): Promise<never> {
    throw vidaxError('logs_not_found', `the fake run store keeps no files for ${id}`);
  }
  async readEvents(id: string): Promise<RunEvent[]> {
    return [...(this.events.get(id) ?? [])];
  }
  async listActive(status?: 'queued' | 'running'): Promise<string[]> {
    return [...this.manifests.values()]
      .filter((m) => !isTerminal(m.run_status) && (status === undefined || m.run_status === status))
      .map((m) => m.run_id);
  }
  async recover() {
    return { removed: [], tempFiles: 0 };
  }
  async close() {
    await Promise.all(this.chains.values());
  }
}
