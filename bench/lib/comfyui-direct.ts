import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Agent, request, WebSocket } from 'undici';

/** Milestones of one prompt, in ms since the POST /prompt was sent. */
export interface DirectTimes {
  queued: number;
  executed: number;
  history: number;
  /** Every output written to disk: the end of the job. */
  total: number;
  files: number;
}

export interface DirectClient {
  run(prompt: Record<string, unknown>, outDir: string): Promise<DirectTimes>;
  close(): Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * The least a client can do to run a workflow on ComfyUI: one WebSocket registered with a
 * clientId (opened once, as VIDAX keeps its own), POST /prompt with client_id + prompt_id, wait
 * for `executing {node:null}` of that prompt, GET /history/{id}, stream every output of
 * GET /view to a file. Keep-alive HTTP, no bookkeeping.
 */
export async function openDirectClient(simUrl: string): Promise<DirectClient> {
  const clientId = randomUUID();
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const waiters = new Map<string, Waiter>();
  const ws = new WebSocket(`${simUrl.replace(/^http/, 'ws')}/ws?clientId=${clientId}`);
  ws.addEventListener('message', (e) => {
    if (typeof e.data !== 'string') return;
    const msg = JSON.parse(e.data) as { type: string; data?: { node?: unknown; prompt_id?: string } };
    const w = msg.data?.prompt_id ? waiters.get(msg.data.prompt_id) : undefined;
    if (!w) return;
    if (msg.type === 'executing' && msg.data?.node === null) w.resolve();
    else if (msg.type === 'execution_error' || msg.type === 'execution_interrupted') w.reject(new Error(`prompt ended with ${msg.type}`));
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('direct client: no status message within 5 s')), 5000);
    ws.addEventListener('message', () => { clearTimeout(t); resolve(); }, { once: true });
    ws.addEventListener('error', () => { clearTimeout(t); reject(new Error('direct client: WebSocket error')); });
  });

  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await request(`${simUrl}${path}`, {
      method,
      dispatcher: agent,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    if (res.statusCode !== 200) throw new Error(`${method} ${path}: ${res.statusCode} ${await res.body.text()}`);
    return res;
  };

  return {
    async run(prompt, outDir) {
      const promptId = randomUUID();
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve, reject) => {
        waiters.set(promptId, { resolve, reject });
        timer = setTimeout(() => reject(new Error(`prompt ${promptId}: no executing {node:null} within 15 s`)), 15_000);
      });
      done.catch(() => {}); // awaited below; a POST failure must not leave it unhandled
      try {
        await (await call('POST', '/prompt', { prompt, client_id: clientId, prompt_id: promptId })).body.dump();
        const queued = performance.now() - t0;
        await done;
        const executed = performance.now() - t0;
        const history = (await (await call('GET', `/history/${promptId}`)).body.json()) as Record<string, { outputs?: Record<string, Record<string, unknown>> }>;
        const historyAt = performance.now() - t0;
        let files = 0;
        for (const output of Object.values(history[promptId]?.outputs ?? {})) {
          for (const list of Object.values(output)) {
            if (!Array.isArray(list)) continue;
            for (const f of list as { filename?: string; subfolder?: string; type?: string }[]) {
              if (typeof f?.filename !== 'string') continue;
              const q = new URLSearchParams({ filename: f.filename, subfolder: f.subfolder ?? '', type: f.type ?? 'output' });
              const res = await call('GET', `/view?${q}`);
              await pipeline(res.body, createWriteStream(join(outDir, `${files++}_${f.filename}`)));
            }
          }
        }
        if (files === 0) throw new Error(`prompt ${promptId}: no outputs in its history`);
        return { queued, executed, history: historyAt, total: performance.now() - t0, files };
      } finally {
        clearTimeout(timer);
        waiters.delete(promptId);
      }
    },
    async close() {
      ws.close();
      await agent.close();
    },
  };
}
