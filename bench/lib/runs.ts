import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Target } from './compare.ts';
import { httpRequest } from './http.ts';
import type { Sample } from './load.ts';
import { API_KEY } from './proc.ts';

export const WORKFLOW_FILE = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'comfyui', 'workflows', 'workflow-single.json');

/** The POST /jobs body the benchmarks send: the fixture workflow as `{"workflow": <graph>}`. */
export const jobBody = (): string => JSON.stringify({ workflow: JSON.parse(readFileSync(WORKFLOW_FILE, 'utf8')) });

/** Creates one run over HTTP; returns its id. */
export async function createRun(url: string, body = jobBody()): Promise<string> {
  const reply = await httpRequest(`${url}/jobs`, {
    method: 'POST',
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
    body,
  });
  if (reply.status !== 202) throw new Error(`POST /jobs answered ${reply.status}: ${reply.body.slice(0, 500)}`);
  const id = (JSON.parse(reply.body) as { run_id?: unknown }).run_id;
  if (typeof id !== 'string') throw new Error(`POST /jobs: no run_id in ${reply.body.slice(0, 300)}`);
  return id;
}

/** Every file of a run directory (relative path → contents), as the store wrote it. */
export interface RunTemplate {
  id: string;
  files: { path: string; data: string }[];
  dirs: string[];
}

export function readTemplate(runsDir: string, id: string): RunTemplate {
  return readTemplateAs(runsDir, id, (_path, data) => data);
}

/** A finished run's files: the manifest says completed/success (no `.active` marker needed). */
export function finishedTemplate(runsDir: string, id: string): RunTemplate {
  return readTemplateAs(runsDir, id, (path, data) => {
    if (path !== 'manifest.json') return data;
    const m = JSON.parse(data) as Record<string, unknown>;
    return `${JSON.stringify({ ...m, run_status: 'completed', exit_status: 'success' }, null, 2)}\n`;
  });
}

function readTemplateAs(runsDir: string, id: string, edit: (path: string, data: string) => string): RunTemplate {
  const root = join(runsDir, id);
  const files: RunTemplate['files'] = [];
  const dirs: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        dirs.push(relative(root, p));
        walk(p);
      } else files.push({ path: relative(root, p), data: edit(relative(root, p), readFileSync(p, 'utf8')) });
    }
  };
  walk(root);
  return { id, files, dirs };
}

/** An id in the store's format (`r_<epoch ms>_<10 base-36>`), increasing with `n`. */
export const fakeRunId = (base: number, n: number): string =>
  `r_${base + Math.floor(n / 1000)}_${n.toString(36).padStart(4, '0')}${randomBytes(3).toString('hex').slice(0, 6)}`;

/** Writes `count` runs straight to disk: the template's files with its id (and workdir) replaced. */
export function cloneRuns(runsDir: string, template: RunTemplate, count: number): string[] {
  const base = Date.now() - 86_400_000;
  const ids: string[] = [];
  const oldDir = join(runsDir, template.id);
  for (let n = 0; n < count; n++) {
    const id = fakeRunId(base, n);
    const root = join(runsDir, id);
    mkdirSync(root);
    for (const d of template.dirs) mkdirSync(join(root, d), { recursive: true });
    for (const f of template.files) {
      writeFileSync(join(root, f.path), f.data.replaceAll(oldDir, root).replaceAll(template.id, id));
    }
    ids.push(id);
  }
  return ids;
}

let tmpCounter = 0;
async function writeAtomic(path: string, data: string): Promise<void> {
  tmpCounter += 1;
  const tmp = join(path, '..', `.bench.${process.pid}.${tmpCounter}.tmp`);
  const fh = await open(tmp, 'wx', 0o644);
  await fh.writeFile(data);
  await fh.datasync();
  await fh.close();
  await rename(tmp, path);
}

/**
 * The baseline of POST /jobs: no HTTP, no validation, just the durable writes one creation makes
 * (mkdir, job.json, manifest.json atomically with fsync, the first event appended), run by
 * `concurrency` workers for `durationS` seconds.
 */
export function durableLoop(runsDir: string, template: RunTemplate, concurrency: number): Target {
  const job = template.files.find((f) => f.path === 'job.json')?.data ?? '{}';
  const manifest = template.files.find((f) => f.path === 'manifest.json')?.data ?? '{}';
  const event = template.files.find((f) => f.path.endsWith('events.jsonl'))?.data ?? '{}\n';
  let n = 0;
  const base = Date.now();
  return {
    name: 'bare durable writes',
    async measure(durationS) {
      const latencies: number[] = [];
      const deadline = performance.now() + durationS * 1000;
      const worker = async () => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          const id = fakeRunId(base, n++);
          const root = join(runsDir, id);
          await mkdir(join(root, 'logs'), { recursive: true });
          await writeAtomic(join(root, 'job.json'), job.replaceAll(template.id, id));
          await writeAtomic(join(root, 'manifest.json'), manifest.replaceAll(template.id, id));
          const fh = await open(join(root, 'logs', 'events.jsonl'), 'a');
          await fh.write(event.replaceAll(template.id, id));
          await fh.close();
          latencies.push(performance.now() - t0);
        }
      };
      const started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, worker));
      const elapsed = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
      const sample: Sample = { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), total: latencies.length, errors: 0, non2xx: 0 };
      return sample;
    },
  };
}
