// The HTTP routes (each also under /api), answering with the real server's shapes and status codes.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, type SimOptions, versionAtLeast } from './args.ts';
import type { Executor } from './executor.ts';
import { upload, view } from './files.ts';
import { features, systemStats } from './info.ts';
import { handleJobs } from './jobs.ts';
import { NODES, nodeDef } from './nodes.ts';
import type { ExtraData, PromptQueue } from './queue.ts';
import { type Graph, validatePrompt } from './validate.ts';

export interface Sim {
  opts: SimOptions;
  log: Logger;
  queue: PromptQueue;
  executor: Executor;
  counter: number;
  freeAfterRun: boolean;
}

class BodyTooLarge extends Error {}
class ServerTrouble extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SENSITIVE = ['auth_token_comfy_org', 'api_key_comfy_org'];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function send(res: ServerResponse, status: number, body: string, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...extra }).end(body);
}
const json = (res: ServerResponse, status: number, v: unknown) => send(res, status, JSON.stringify(v), 'application/json; charset=utf-8');
const ok = (res: ServerResponse) => send(res, 200, '', 'application/octet-stream');

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLarge(`Maximum request body size ${limit} exceeded, actual body size ${declared}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new BodyTooLarge(`Maximum request body size ${limit} exceeded, actual body size ${size}`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = (await readBody(req, limit)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new ServerTrouble();
  }
}

export function queueInfo(sim: Sim) {
  return { exec_info: { queue_remaining: sim.queue.remaining() } };
}

async function postPrompt(sim: Sim, req: IncomingMessage, res: ServerResponse): Promise<void> {
  sim.log.info('got prompt');
  const body = await readJson(req, sim.opts.maxUploadBytes);
  if (!isObject(body)) throw new ServerTrouble();
  let number: number;
  if ('number' in body) {
    number = Number(body.number);
    if (body.number === null || body.number === '' || !Number.isFinite(number)) throw new ServerTrouble();
  } else {
    number = body.front ? -sim.counter : sim.counter;
    sim.counter++;
  }
  const fail = (type: string, message: string, details: string) => json(res, 400, { error: { type, message, details, extra_info: {} }, node_errors: {} });
  if (!('prompt' in body)) return fail('no_prompt', 'No prompt provided', 'No prompt provided');
  const prompt = body.prompt;
  if (!isObject(prompt) || !Object.values(prompt).every(isObject)) throw new ServerTrouble();
  const given = body.prompt_id;
  let promptId: string = randomUUID();
  if (given !== undefined && given !== null && versionAtLeast(sim.opts.version, '0.3.45')) {
    if (versionAtLeast(sim.opts.version, '0.25.0') && !(typeof given === 'string' && UUID.test(given))) {
      return fail('invalid_prompt_id', 'Invalid prompt_id', `prompt_id must be a lowercase hyphenated UUID, got ${JSON.stringify(given)}`);
    }
    promptId = typeof given === 'string' ? given : JSON.stringify(given);
  }
  const partial = Array.isArray(body.partial_execution_targets) ? body.partial_execution_targets.map(String) : null;
  const v = validatePrompt(prompt as Graph, partial, sim.opts.version);
  if (!v.ok) {
    sim.log.error(`invalid prompt: ${JSON.stringify(v.error)}`);
    return json(res, 400, { error: v.error, node_errors: v.nodeErrors });
  }
  const extra: ExtraData = isObject(body.extra_data) ? { ...body.extra_data } : {};
  if ('client_id' in body) extra.client_id = body.client_id as string;
  if (versionAtLeast(sim.opts.version, '0.3.69')) extra.create_time = Date.now();
  for (const k of SENSITIVE) delete extra[k];
  sim.queue.put([number, promptId, prompt as Graph, extra, v.outputs]);
  json(res, 200, { prompt_id: promptId, number, node_errors: v.nodeErrors });
}

type Route = [string, RegExp, (sim: Sim, req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, q: URLSearchParams) => unknown];

const ROUTES: Route[] = [
  ['GET', /^\/$/, (_s, _q, res) => send(res, 200, '<!doctype html><title>ComfyUI simulator</title><h1>VIDAX ComfyUI simulator</h1><p>Not ComfyUI: an HTTP + WebSocket stand-in for tests and demos.</p>', 'text/html; charset=utf-8')],
  ['GET', /^\/system_stats$/, (sim, _q, res) => json(res, 200, systemStats(sim.opts))],
  ['GET', /^\/features$/, (sim, _q, res) => json(res, 200, features(sim.opts))],
  ['GET', /^\/prompt$/, (sim, _q, res) => json(res, 200, queueInfo(sim))],
  ['POST', /^\/prompt$/, (sim, req, res) => postPrompt(sim, req, res)],
  ['GET', /^\/queue$/, (sim, _q, res) => {
    const { running, pending } = sim.queue.current();
    json(res, 200, { queue_running: running, queue_pending: pending });
  }],
  ['POST', /^\/queue$/, async (sim, req, res) => {
    const body = await readJson(req, sim.opts.maxUploadBytes);
    if (!isObject(body)) throw new ServerTrouble();
    if (body.clear) sim.queue.wipe();
    if (Array.isArray(body.delete)) for (const id of body.delete) sim.queue.delete(String(id));
    ok(res);
  }],
  ['GET', /^\/history$/, (sim, _r, res, _m, q) => {
    const [max, off] = [q.get('max_items'), Number.parseInt(q.get('offset') ?? '-1', 10)];
    json(res, 200, sim.queue.getHistory(max === null ? null : Number.parseInt(max, 10) || 0, Number.isNaN(off) ? -1 : off));
  }],
  ['GET', /^\/history\/(.+)$/, (sim, _r, res, m) => {
    const id = decodeURIComponent(m[1]!);
    const entry = sim.queue.history.get(id);
    json(res, 200, entry ? { [id]: entry } : {});
  }],
  ['POST', /^\/history$/, async (sim, req, res) => {
    const body = await readJson(req, sim.opts.maxUploadBytes);
    if (!isObject(body)) throw new ServerTrouble();
    if (body.clear) sim.queue.history.clear();
    if (Array.isArray(body.delete)) for (const id of body.delete) sim.queue.history.delete(String(id));
    ok(res);
  }],
  ['GET', /^\/view$/, (sim, _r, res, _m, q) => view(sim.opts, q, res)],
  ['POST', /^\/interrupt$/, async (sim, req, res) => {
    let body: unknown = {};
    try {
      body = await readJson(req, sim.opts.maxUploadBytes);
    } catch (e) {
      if (!(e instanceof ServerTrouble)) throw e;
    }
    const pid = isObject(body) ? body.prompt_id : undefined;
    if (!pid) {
      sim.log.info('Global interrupt (no prompt_id specified)');
      sim.executor.interrupt();
    } else if (sim.queue.isRunning(String(pid))) {
      sim.log.info(`Interrupting prompt ${pid}`);
      sim.executor.interrupt();
    } else {
      sim.log.info(`Prompt ${pid} is not currently running, skipping interrupt`);
    }
    ok(res);
  }],
  ['POST', /^\/free$/, async (sim, req, res) => {
    const body = await readJson(req, sim.opts.maxUploadBytes);
    if (isObject(body) && body.free_memory) {
      if (sim.queue.current().running.length === 0) sim.executor.clearCache();
      else sim.freeAfterRun = true;
    }
    ok(res);
  }],
  ['POST', /^\/upload\/image$/, async (sim, req, res) => {
    const bytes = await readBody(req, sim.opts.maxUploadBytes);
    const form = await new Request('http://sim/', { method: 'POST', headers: { 'content-type': String(req.headers['content-type'] ?? '') }, body: new Uint8Array(bytes) })
      .formData()
      .catch(() => null);
    const a = form ? await upload(sim.opts, form) : { status: 400 };
    if (a.json === undefined) return send(res, a.status, '', 'application/octet-stream');
    json(res, a.status, a.json);
  }],
  ['GET', /^\/object_info$/, (_s, _r, res) => json(res, 200, Object.fromEntries(Object.entries(NODES).map(([k, d]) => [k, d.info])))],
  ['GET', /^\/object_info\/(.+)$/, (_s, _r, res, m) => {
    const name = decodeURIComponent(m[1]!);
    const d = nodeDef(name);
    json(res, 200, d ? { [name]: d.info } : {});
  }],
  ['GET', /^\/(embeddings|extensions)$/, (_s, _r, res) => json(res, 200, [])],
  ['GET', /^\/models$/, (_s, _r, res) => json(res, 200, ['checkpoints', 'loras', 'vae', 'text_encoders', 'diffusion_models', 'upscale_models'])],
  ['GET', /^\/models\/(.+)$/, (_s, _r, res, m) => (['checkpoints', 'loras', 'vae', 'text_encoders', 'diffusion_models', 'upscale_models'].includes(m[1]!) ? json(res, 200, []) : send(res, 404, '404: Not Found', 'text/plain; charset=utf-8'))],
];

export async function handle(sim: Sim, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sim');
  const path = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname;
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
  let pathKnown = false;
  try {
    if (url.pathname.startsWith('/api/jobs') && (await handleJobs(sim, req, url.pathname, url.searchParams, (status, body) => {
      json(res, status, body);
      return true;
    }))) return;
    for (const [m, re, fn] of ROUTES) {
      const match = re.exec(path);
      if (!match) continue;
      pathKnown = true;
      if (m === method) return void (await fn(sim, req, res, match, url.searchParams));
    }
    if (pathKnown) return send(res, 405, '405: Method Not Allowed', 'text/plain; charset=utf-8');
    // Newer servers (checked on 0.33.0) answer an unknown route 404 with an empty body.
    if (versionAtLeast(sim.opts.version, '0.33.0')) return send(res, 404, '', 'application/octet-stream');
    send(res, 404, '404: Not Found', 'text/plain; charset=utf-8');
  } catch (e) {
    if (res.headersSent) return void res.destroy();
    if (e instanceof BodyTooLarge) return send(res, 413, e.message, 'text/plain; charset=utf-8', { Connection: 'close' });
    if (!(e instanceof ServerTrouble)) sim.log.error(`Error handling request: ${(e as Error).stack ?? e}`);
    send(res, 500, '500 Internal Server Error\n\nServer got itself in trouble', 'text/plain; charset=utf-8', { Connection: 'close' });
  }
}
