// The jobs API of newer ComfyUI (only under /api): GET /api/jobs (v0.6.0+), GET /api/jobs/{id},
// POST /api/jobs/{id}/cancel and POST /api/jobs/cancel (v0.26.0+). A view over the queue and the
// history: an interrupted prompt is `cancelled` here while its history says `error`.
import type { IncomingMessage } from 'node:http';
import { versionAtLeast } from './args.ts';
import type { HistoryEntry, QueueItem } from './queue.ts';
import type { Sim } from './routes.ts';

/** Sends the JSON answer; returns true (handled). */
type Reply = (status: number, body: unknown) => true;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'cancelled'];
const PREVIEWABLE = ['images', 'video', 'audio'];

/** Drops null and undefined fields, as the real server does. */
const compact = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

function files(outputs: Record<string, unknown>): { node: string; kind: string; item: Record<string, unknown> }[] {
  const out: { node: string; kind: string; item: Record<string, unknown> }[] = [];
  for (const [node, ui] of Object.entries(outputs)) {
    for (const [kind, items] of Object.entries((ui ?? {}) as Record<string, unknown>)) {
      if (kind === 'animated' || !Array.isArray(items)) continue;
      for (const item of items) if (item && typeof item === 'object' && 'filename' in item) out.push({ node, kind, item: item as Record<string, unknown> });
    }
  }
  return out;
}

function pendingJob(item: QueueItem, status: string) {
  return compact({ id: item[1], status, priority: item[0], create_time: item[3].create_time, outputs_count: 0, previewable_outputs_count: 0 });
}

function finishedJob(entry: HistoryEntry, full: boolean) {
  const item = entry.prompt;
  const messages = entry.status.messages;
  const last = messages.at(-1);
  const status = entry.status.status_str === 'success' ? 'completed' : last?.[0] === 'execution_interrupted' ? 'cancelled' : 'failed';
  const all = files(entry.outputs);
  const previews = all.filter((f) => PREVIEWABLE.includes(f.kind));
  const first = previews[0];
  const stamp = (type: string) => messages.find(([t]) => t === type)?.[1].timestamp;
  return compact({
    ...pendingJob(item, status),
    outputs_count: all.length,
    previewable_outputs_count: previews.length,
    execution_start_time: stamp('execution_start'),
    execution_end_time: last?.[1].timestamp,
    execution_error: last?.[0] === 'execution_error' ? last[1] : null,
    preview_output: first ? { ...first.item, nodeId: first.node, mediaType: first.kind } : null,
    ...(full ? { outputs: entry.outputs, execution_status: entry.status, workflow: { prompt: item[2], extra_data: item[3] } } : {}),
  });
}

/** Every job the server knows: running, pending, then history. */
function allJobs(sim: Sim, full: boolean): Record<string, unknown>[] {
  const { running, pending } = sim.queue.current();
  return [
    ...running.map((i) => pendingJob(i, 'in_progress')),
    ...pending.map((i) => pendingJob(i, 'pending')),
    ...[...sim.queue.history.values()].map((e) => finishedJob(e, full)),
  ];
}

function list(sim: Sim, q: URLSearchParams, reply: Reply): true {
  const statuses = (q.get('status') ?? '').split(',').filter(Boolean);
  const bad = statuses.find((s) => !STATUSES.includes(s));
  if (bad) return reply(400, { error: `Invalid status: ${bad}` });
  const sortBy = q.get('sort_by') ?? 'created_at';
  const order = q.get('sort_order') ?? 'desc';
  if (!['created_at', 'execution_duration'].includes(sortBy)) return reply(400, { error: 'sort_by must be created_at or execution_duration' });
  if (!['asc', 'desc'].includes(order)) return reply(400, { error: 'sort_order must be asc or desc' });
  const int = (name: string) => (q.has(name) ? Number(q.get(name)) : null);
  const [limit, offset] = [int('limit'), int('offset') ?? 0];
  if ((limit !== null && (!Number.isInteger(limit) || limit < 1)) || !Number.isInteger(offset) || offset < 0) return reply(400, { error: 'limit must be a positive integer and offset a non-negative integer' });
  const key = (j: Record<string, unknown>) =>
    sortBy === 'created_at' ? Number(j.create_time ?? 0) : Number(j.execution_end_time ?? 0) - Number(j.execution_start_time ?? 0);
  const jobs = allJobs(sim, false)
    .filter((j) => statuses.length === 0 || statuses.includes(String(j.status)))
    .sort((a, b) => (order === 'asc' ? key(a) - key(b) : key(b) - key(a)));
  const page = jobs.slice(offset, limit === null ? undefined : offset + limit);
  return reply(200, { jobs: page, pagination: { offset, limit, total: jobs.length, has_more: offset + page.length < jobs.length } });
}

/** Interrupts the job if it runs, drops it if it waits; false when it is neither. */
function cancel(sim: Sim, id: string): boolean {
  if (sim.queue.isRunning(id)) {
    sim.log.info(`Interrupting prompt ${id}`);
    sim.executor.interrupt();
    return true;
  }
  return sim.queue.delete(id);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}

/** Answers a /api/jobs… request; false when the path is not one of its routes (or this version has none). */
export async function handleJobs(sim: Sim, req: IncomingMessage, path: string, q: URLSearchParams, reply: Reply): Promise<boolean> {
  const v = sim.opts.version;
  if (!versionAtLeast(v, '0.6.0')) return false;
  const canCancel = versionAtLeast(v, '0.26.0');
  if (req.method === 'GET' && path === '/api/jobs') return list(sim, q, reply);
  if (req.method === 'POST' && path === '/api/jobs/cancel' && canCancel) {
    const body = (await readJson(req)) as { job_ids?: unknown } | null;
    const ids = Array.isArray(body?.job_ids) ? body.job_ids.map(String) : [];
    const invalid = ids.filter((id) => !UUID.test(id));
    if (!Array.isArray(body?.job_ids) || invalid.length > 0) return reply(400, { error: 'job_ids must be a list of UUIDs', invalid_ids: invalid });
    return reply(200, { cancelled: ids.filter((id) => cancel(sim, id)) });
  }
  const m = /^\/api\/jobs\/([^/]+)(\/cancel)?$/.exec(path);
  if (!m) return false;
  const id = decodeURIComponent(m[1]!);
  if (m[2] && req.method === 'POST' && canCancel) {
    if (!UUID.test(id)) return reply(400, { error: 'Invalid job id', invalid_ids: [id] });
    return reply(200, { cancelled: cancel(sim, id) });
  }
  if (m[2] || req.method !== 'GET') return false;
  const job = allJobs(sim, true).find((j) => j.id === id);
  return reply(job ? 200 : 404, job ?? { error: 'Job not found' });
}
