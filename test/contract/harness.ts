// The real VIDAX process (adapters/node.ts, from source) driving a contract target, and the HTTP
// calls a client makes. One VIDAX at a time; `crash()` + `start()` is a kill -9 and a restart
// over the same runs dir and config.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, until } from '../support/comfyui.ts';
import { KEY, startVidaxProc, type VidaxProc } from '../reliability/support/proc.ts';
import type { Target } from './targets.ts';

// biome-ignore lint/suspicious/noExplicitAny: a client's view of VIDAX's JSON
export type Json = any;
export interface Event {
  type: string;
  [k: string]: unknown;
}

export class Vidax {
  private proc: VidaxProc | null = null;
  readonly base: string;

  constructor(readonly target: Target) {
    this.base = join(target.base, 'vidax');
  }

  get runsDir() {
    return join(this.base, 'runs');
  }

  /** Starts VIDAX (config file in `base`); a second call after `crash()` is the restart. */
  async start(): Promise<void> {
    this.proc = await startVidaxProc(this.base, { comfyui: this.target.comfyui }, 30_000);
  }

  /** kill -9 of VIDAX. */
  async crash(): Promise<void> {
    await this.proc?.kill();
  }

  get stderr() {
    return this.proc?.proc.stderr() ?? '';
  }

  async request(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<{ status: number; body: Json; text: string }> {
    if (!this.proc) throw new Error('VIDAX is not running');
    const res = await fetch(`${this.proc.url}${path}`, {
      method,
      headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: Json = null;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, body: json, text };
  }

  /** GET of a file VIDAX serves (e.g. `/jobs/<id>/final.mp4`), with the key: status, headers, the bytes. */
  async download(path: string): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
    if (!this.proc) throw new Error('VIDAX is not running');
    const res = await fetch(`${this.proc.url}${path}`, { headers: { 'x-api-key': KEY }, signal: AbortSignal.timeout(60_000) });
    return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
  }

  /** POST /comfyui/start: makes ComfyUI ready (a managed one is started: slow for a real one). */
  async ensureComfyUI(): Promise<Json> {
    const res = await this.request('POST', '/comfyui/start', undefined, 240_000);
    if (res.status !== 202) throw new Error(`POST /comfyui/start: ${res.status} ${res.text}\n${this.stderr}`);
    return res.body;
  }

  async health(): Promise<Json> {
    return (await this.request('GET', '/comfyui/health')).body;
  }

  async create(job: Record<string, unknown>): Promise<string> {
    const res = await this.request('POST', '/jobs', job);
    if (res.status !== 202) throw new Error(`POST /jobs: ${res.status} ${res.text}`);
    return res.body.run_id;
  }

  /** POST /jobs as multipart: the job as part `job`, one file part per input. */
  async createWithFiles(job: Record<string, unknown>, files: Record<string, { bytes: Buffer; filename: string; type: string }>): Promise<string> {
    if (!this.proc) throw new Error('VIDAX is not running');
    const form = new FormData();
    form.append('job', JSON.stringify(job));
    for (const [name, f] of Object.entries(files)) form.append(name, new Blob([new Uint8Array(f.bytes)], { type: f.type }), f.filename);
    const res = await fetch(`${this.proc.url}/jobs`, { method: 'POST', headers: { 'x-api-key': KEY }, body: form, signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    if (res.status !== 202) throw new Error(`POST /jobs (multipart): ${res.status} ${text}`);
    return JSON.parse(text).run_id;
  }

  async startRun(id: string): Promise<void> {
    const res = await this.request('POST', `/jobs/${id}/start`, undefined, 240_000);
    if (res.status !== 202) throw new Error(`POST /jobs/${id}/start: ${res.status} ${res.text}`);
  }

  /** Creates and starts a job; its run id. */
  async run(job: Record<string, unknown>): Promise<string> {
    const id = await this.create(job);
    await this.startRun(id);
    return id;
  }

  async job(id: string): Promise<Json> {
    return (await this.request('GET', `/jobs/${id}`)).body;
  }

  async manifest(id: string): Promise<Json> {
    return (await this.request('GET', `/jobs/${id}/manifest`)).body;
  }

  async events(id: string): Promise<Event[]> {
    const { text } = await this.request('GET', `/jobs/${id}/logs`);
    return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);
  }

  /** Polls GET /jobs/:id until the run ended (run_status completed or failed). */
  async waitEnd(id: string, ms = this.target.runMs): Promise<Json> {
    return until(`run ${id} to end`, async () => {
      const body = await this.job(id);
      return ['completed', 'failed'].includes(body.run_status) ? body : null;
    }, ms);
  }

  /** Polls GET /jobs/:id until `pred` holds. */
  async waitJob(id: string, what: string, pred: (job: Json) => boolean, ms = this.target.runMs): Promise<Json> {
    return until(what, async () => {
      const body = await this.job(id);
      if (['completed', 'failed'].includes(body.run_status) && !pred(body)) throw new Error(`run ${id} ended before ${what}: ${JSON.stringify(body)}`);
      return pred(body) ? body : null;
    }, ms);
  }

  /** Stops VIDAX (SIGTERM) and any ComfyUI a VIDAX of this suite started (its pid file). */
  async stop(): Promise<void> {
    await this.proc?.stop();
    this.proc = null;
    let pid = 0;
    try {
      // First line: the pid (then its start time).
      pid = Number(readFileSync(join(this.base, 'comfyui.log.pid'), 'utf8').split('\n')[0]);
    } catch {}
    if (this.target.managed && pid > 0 && isAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      await until('ComfyUI to stop', () => !isAlive(pid), 10_000).catch(() => process.kill(pid, 'SIGKILL'));
    }
  }

  /** ComfyUI's log (managed targets), for failure messages. */
  comfyuiLog(): string {
    try {
      return readFileSync(join(this.base, 'comfyui.log'), 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  dispose(): void {
    rmSync(this.target.base, { recursive: true, force: true });
  }
}
