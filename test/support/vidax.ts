import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { type RunningServer, startServer } from '../../adapters/node.ts';
import type { Config } from '../../lib/config.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { freePort, until } from './comfyui.ts';
import { TEST_KEY, testConfig } from './context.ts';
import { COMFYUI_FIXTURES, simulatorCommand } from './simulator.ts';

export const workflow = (name: 'single' | 'batch') =>
  JSON.parse(readFileSync(join(COMFYUI_FIXTURES, 'workflows', `workflow-${name}.json`), 'utf8'));

/** A VIDAX Node server whose managed ComfyUI is the simulator (spawned on first need). */
export async function startVidaxWithSim(
  opts: { simArgs?: string[]; port?: number; runsDir?: string; comfyui?: Record<string, unknown>; config?: Record<string, unknown>; media?: Record<string, unknown> } = {},
) {
  const port = opts.port ?? (await freePort());
  const config: Config = testConfig({
    ...opts.config,
    ...(opts.runsDir ? { runsDir: opts.runsDir } : {}),
    ...(opts.media ? { media: opts.media } : {}),
    comfyui: {
      url: `http://127.0.0.1:${port}`,
      command: simulatorCommand(port, opts.simArgs ?? []),
      startTimeoutMs: 20_000,
      requestTimeoutMs: 5000,
      restart: { backoffMs: 100, maxBackoffMs: 500, maxRestarts: 3 },
      stopOnExit: true, // close() leaves no simulator behind (a test of the hand-over says false)
      ...opts.comfyui,
    },
  });
  const log = createMemoryLogger();
  const running: RunningServer = await startServer({ config, log });
  const api = request(running.server);
  const key = (r: request.Test) => r.set('x-api-key', TEST_KEY);
  return {
    running,
    api,
    key,
    config,
    log,
    port,
    async createRun(job: Record<string, unknown>): Promise<string> {
      const res = await key(api.post('/jobs')).send(job);
      if (res.status !== 202) throw new Error(`POST /jobs: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.run_id;
    },
    start: (id: string) => key(api.post(`/jobs/${id}/start`)),
    get: (id: string) => key(api.get(`/jobs/${id}`)),
    manifest: async (id: string) => JSON.parse((await key(api.get(`/jobs/${id}/manifest`))).text),
    events: async (id: string) =>
      (await key(api.get(`/jobs/${id}/logs`))).text.trim().split('\n').map((l: string) => JSON.parse(l)),
    comfyuiHealth: async () => (await key(api.get('/comfyui/health'))).body,
    health: async () => (await key(api.get('/health'))).body,
    /** Polls GET /jobs/:id until the run ended. */
    async waitEnd(id: string, ms = 30_000) {
      return until(`run ${id} to end`, async () => {
        const res = await key(api.get(`/jobs/${id}`));
        return ['completed', 'failed'].includes(res.body.run_status) ? res.body : null;
      }, ms);
    },
    close: () => running.close(),
  };
}
