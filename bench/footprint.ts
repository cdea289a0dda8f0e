import type { Bench } from './lib/bench.ts';
import { httpRequest } from './lib/http.ts';
import { median } from './lib/load.ts';
import { API_KEY, type RunningServer } from './lib/proc.ts';
import { check, type Row } from './lib/results.ts';
import { startPeer, startVidax, workspace } from './lib/servers.ts';

const MB = 1024 * 1024;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** A few requests, a pause, then VmRSS: the footprint of a server that has served and gone idle. */
async function idleRss(server: RunningServer): Promise<number> {
  for (let i = 0; i < 50; i++) await httpRequest(`${server.url}/health`, { headers: { 'x-api-key': API_KEY } });
  await new Promise((r) => setTimeout(r, 500));
  return server.rss();
}

/** Idle RSS and spawn → first successful /health, median of several launches, interleaved with the peers. */
export const footprint: Bench = {
  key: 'footprint',
  describe: 'idle RSS and time from spawn to first 200 on /health (VIDAX vs peers)',
  async run(opts) {
    const launches = opts.quick ? 2 : 7;
    const ws = workspace('footprint');
    const names = ['VIDAX', 'Fastify', 'node:http'] as const;
    const ready = new Map<string, number[]>(names.map((n) => [n, []]));
    const rss = new Map<string, number[]>(names.map((n) => [n, []]));
    try {
      for (let i = 0; i < launches; i++) {
        for (let j = 0; j < names.length; j++) {
          const name = names[(i + j) % names.length]!;
          const logFile = `${ws.dir}/${name}.log`;
          const server =
            name === 'VIDAX'
              ? await startVidax({ runsDir: `${ws.dir}/runs-${i}`, logFile })
              : await startPeer(name === 'Fastify' ? 'fastify' : 'bare', { logFile });
          try {
            ready.get(name)!.push(server.readyMs);
            rss.get(name)!.push(await idleRss(server));
          } finally {
            await server.stop();
          }
        }
        opts.log(`  launch ${i + 1}: ${names.map((n) => `${n} ${round(ready.get(n)!.at(-1)!)} ms`).join(', ')}`);
      }
      const med = (m: Map<string, number[]>, n: string) => median(m.get(n)!);
      const bareReady = med(ready, 'node:http');
      const bareRss = med(rss, 'node:http');
      const rows: Row[] = names.map((n) => ({
        target: n,
        'ready ms (median)': round(med(ready, n)),
        '× node:http': round(med(ready, n) / bareReady, 2),
        'idle RSS MB (median)': round(med(rss, n) / MB),
        'RSS × node:http': round(med(rss, n) / bareRss, 2),
      }));
      const vidaxReady = med(ready, 'VIDAX');
      const vidaxRss = med(rss, 'VIDAX') / MB;
      return {
        title: 'Footprint: idle RSS and start time',
        settings: { launches, requests_before_rss: 50 },
        rows,
        checks: [
          check('VIDAX idle RSS', vidaxRss, 'MB', '< 80 MB', vidaxRss < 80),
          check('VIDAX spawn → first 200 on /health', vidaxReady, 'ms', '< 500 ms', vidaxReady < 500),
        ],
        notes: ['ready = spawn of `node dist/vidax.mjs` (empty runs dir) until the first 200 on GET /health, probed every 2 ms'],
      };
    } finally {
      ws.cleanup();
    }
  },
};
