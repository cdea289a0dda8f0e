import { mkdirSync, writeFileSync } from 'node:fs';
import { STORE_FILES } from './jobs.ts';
import type { Bench } from './lib/bench.ts';
import { sequentialLatency } from './lib/http.ts';
import { cannon, median, percentile } from './lib/load.ts';
import { needFiles } from './lib/needs.ts';
import type { RunningServer } from './lib/proc.ts';
import { check, type Row } from './lib/results.ts';
import { cloneRuns, createRun, finishedTemplate, jobBody } from './lib/runs.ts';
import { authHeaders, startVidax, workspace } from './lib/servers.ts';

const MB = 1024 * 1024;
const r1 = (n: number) => Math.round(n * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET /jobs/:id latency and start time with 100 000 runs on disk vs 10; RSS growth over 10 000 creates. */
export const scale: Bench = {
  key: 'scale',
  describe: 'GET /jobs/:id latency and start time with 100 000 runs vs 10; RSS growth over 10 000 creates',
  async run(opts) {
    needFiles(...STORE_FILES);
    const bigCount = opts.quick ? 5_000 : 100_000;
    const creates = opts.quick ? 1_000 : 10_000;
    const perRound = opts.quick ? 300 : 1_000;
    const launches = opts.quick ? 2 : 5;
    const ws = workspace('scale');
    const servers: RunningServer[] = [];
    try {
      // A real run as the store writes it, then clones of it (finished runs) straight on disk.
      const seed = await startVidax({ runsDir: `${ws.dir}/seed`, logFile: `${ws.dir}/vidax.log` });
      const template = finishedTemplate(`${ws.dir}/seed`, await createRun(seed.url));
      await seed.stop();
      const small = { dir: `${ws.dir}/small`, ids: [] as string[] };
      const big = { dir: `${ws.dir}/big`, ids: [] as string[] };
      mkdirSync(small.dir);
      mkdirSync(big.dir);
      small.ids = cloneRuns(small.dir, template, 10);
      const t0 = performance.now();
      big.ids = cloneRuns(big.dir, template, bigCount);
      // The run-list journal a VIDAX that had created these runs would have left (see lib/runs/run-list.ts).
      for (const which of [small, big]) writeFileSync(`${which.dir}/.runs-index`, which.ids.map((id) => `${id} c\n`).join(''));
      opts.log(`  wrote ${bigCount} runs in ${r1((performance.now() - t0) / 1000)} s`);

      // Start time, interleaved: spawn → first 200 on /health.
      const ready = { small: [] as number[], big: [] as number[] };
      for (let i = 0; i < launches; i++) {
        for (const which of i % 2 ? (['big', 'small'] as const) : (['small', 'big'] as const)) {
          const s = await startVidax({ runsDir: which === 'big' ? big.dir : small.dir, logFile: `${ws.dir}/vidax.log` });
          ready[which].push(s.readyMs);
          await s.stop();
        }
      }

      // GET /jobs/:id latency, sequential on one keep-alive connection, interleaved rounds.
      const vs = await startVidax({ runsDir: small.dir, logFile: `${ws.dir}/vidax.log`, name: '10 runs' });
      servers.push(vs);
      const vb = await startVidax({ runsDir: big.dir, logFile: `${ws.dir}/vidax.log`, name: `${bigCount} runs` });
      servers.push(vb);
      const hot = { small: [] as number[], big: [] as number[], smallP99: [] as number[], bigP99: [] as number[] };
      const list = { small: [] as number[], big: [] as number[], smallP99: [] as number[], bigP99: [] as number[] };
      const cold: number[] = [];
      const coldP99: number[] = [];
      let next = 0;
      for (let r = 0; r < opts.rounds; r++) {
        for (const which of r % 2 ? (['big', 'small'] as const) : (['small', 'big'] as const)) {
          const s = which === 'big' ? vb : vs;
          const id = which === 'big' ? big.ids[big.ids.length >> 1]! : small.ids[5]!;
          const lat = await sequentialLatency(`${s.url}/jobs/${id}`, authHeaders(), perRound);
          hot[which].push(median(lat));
          hot[which === 'big' ? 'bigP99' : 'smallP99'].push(percentile(lat, 99));
          // GET /jobs: the newest 10 (a full page in both), from the index.
          const page = await sequentialLatency(`${s.url}/jobs?limit=10`, authHeaders(), perRound);
          list[which].push(median(page));
          list[which === 'big' ? 'bigP99' : 'smallP99'].push(percentile(page, 99));
        }
        // A different, never-read run each request: a cache miss, read from disk.
        const lat = await sequentialLatency((i) => `${vb.url}/jobs/${big.ids[(next + i * 7919) % big.ids.length]}`, authHeaders(), perRound);
        next += 1;
        cold.push(median(lat));
        coldP99.push(percentile(lat, 99));
      }
      await Promise.all(servers.splice(0).map((s) => s.stop()));

      // RSS growth over `creates` runs created through POST /jobs.
      const grow = await startVidax({ runsDir: `${ws.dir}/grow`, logFile: `${ws.dir}/vidax.log` });
      servers.push(grow);
      const post = { method: 'POST' as const, headers: authHeaders({ 'content-type': 'application/json' }), body: jobBody() };
      await cannon({ ...post, url: `${grow.url}/jobs`, connections: 8, durationS: 60, amount: 200 });
      await sleep(1000);
      const rssBefore = grow.rss();
      const made = await cannon({ ...post, url: `${grow.url}/jobs`, connections: 8, durationS: 300, amount: creates });
      await sleep(1000);
      const rssAfter = grow.rss();
      const growth = (rssAfter - rssBefore) / MB;

      const m = (xs: number[]) => median(xs);
      const latRatio = m(hot.big) / m(hot.small);
      const listRatio = m(list.big) / m(list.small);
      const startBig = m(ready.big);
      const rows: Row[] = [
        { target: '10 runs', 'start ms': r1(m(ready.small)), 'GET p50 µs (same id)': r1(m(hot.small)), 'GET p99 µs': r1(m(hot.smallP99)), '× 10 runs': 1 },
        {
          target: `${bigCount} runs`,
          'start ms': r1(startBig),
          'GET p50 µs (same id)': r1(m(hot.big)),
          'GET p99 µs': r1(m(hot.bigP99)),
          '× 10 runs': Math.round(latRatio * 100) / 100,
        },
        { target: `${bigCount} runs, a new id each request`, 'start ms': '', 'GET p50 µs (same id)': r1(m(cold)), 'GET p99 µs': r1(m(coldP99)), '× 10 runs': Math.round((m(cold) / m(hot.small)) * 100) / 100 },
        { target: 'GET /jobs?limit=10, 10 runs', 'start ms': '', 'GET p50 µs (same id)': r1(m(list.small)), 'GET p99 µs': r1(m(list.smallP99)), '× 10 runs': 1 },
        { target: `GET /jobs?limit=10, ${bigCount} runs`, 'start ms': '', 'GET p50 µs (same id)': r1(m(list.big)), 'GET p99 µs': r1(m(list.bigP99)), '× 10 runs': Math.round(listRatio * 100) / 100 },
        { target: `RSS over ${creates} creates`, 'start ms': '', 'GET p50 µs (same id)': `${r1(rssBefore / MB)} → ${r1(rssAfter / MB)} MB`, 'GET p99 µs': '', '× 10 runs': '' },
      ];
      const failed = made.errors + made.non2xx;
      return {
        title: `Scale: ${bigCount} runs on disk vs 10; RSS over ${creates} creates`,
        settings: { rounds: opts.rounds, requests_per_round: perRound, launches, creates_concurrency: 8 },
        rows,
        checks: [
          check(`GET /jobs/:id p50, ${bigCount} runs ÷ 10 runs`, latRatio, '×', '≤ 1.10', latRatio <= 1.1),
          check(`GET /jobs?limit=10 p50, ${bigCount} runs ÷ 10 runs`, listRatio, '×', '≤ 1.10', listRatio <= 1.1),
          check(`start with ${bigCount} runs`, startBig, 'ms', '< 1000 ms', startBig < 1000),
          check(`RSS growth over ${creates} creates`, growth, 'MB', '< 20 MB', growth < 20),
          check('POST errors + non-2xx', failed, '', '0', failed === 0),
        ],
        notes: [
          'runs written straight to disk: one real run\'s files with the id changed, manifests marked completed',
          'latency: sequential GETs on one keep-alive connection (client-side, includes the loopback round trip)',
        ],
      };
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      ws.cleanup();
    }
  },
};
