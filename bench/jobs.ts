import { writeFileSync } from 'node:fs';
import type { Bench } from './lib/bench.ts';
import { interleave } from './lib/compare.ts';
import { httpRequest } from './lib/http.ts';
import { needFiles } from './lib/needs.ts';
import type { RunningServer } from './lib/proc.ts';
import { check, throughputRows } from './lib/results.ts';
import { createRun, durableLoop, jobBody, readTemplate } from './lib/runs.ts';
import { authHeaders, httpTarget, startPeer, startVidax, workspace } from './lib/servers.ts';
import { sameAnswers } from './lib/verify.ts';

export const STORE_FILES = ['lib/runs/store.ts', 'functions/jobs.post.ts'];

/** GET /jobs/:id: VIDAX vs Fastify vs node:http serving the same bytes (read once), interleaved. */
export const jobsGet: Bench = {
  key: 'jobs-get',
  describe: 'GET /jobs/:id req/s and latency: VIDAX vs Fastify vs node:http',
  async run(opts) {
    needFiles(...STORE_FILES);
    const ws = workspace('jobs-get');
    const servers: RunningServer[] = [];
    try {
      const vidax = await startVidax({ runsDir: `${ws.dir}/runs`, logFile: `${ws.dir}/vidax.log` });
      servers.push(vidax);
      const id = await createRun(vidax.url);
      const path = `/jobs/${id}`;
      const reply = await httpRequest(`${vidax.url}${path}`, { headers: authHeaders() });
      if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status} ${reply.body.slice(0, 300)}`);
      writeFileSync(`${ws.dir}/job-body.json`, reply.body);
      const env = { BENCH_JOB_BODY: `${ws.dir}/job-body.json`, BENCH_JOB_ID: id };
      servers.push(await startPeer('fastify', { logFile: `${ws.dir}/fastify.log`, env }));
      servers.push(await startPeer('bare', { logFile: `${ws.dir}/bare.log`, env }));
      await sameAnswers(servers, path);
      const summaries = await interleave({
        targets: servers.map((s) => httpTarget(s, path, { headers: authHeaders(), connections: opts.connections })),
        baseline: 'node:http',
        rounds: opts.rounds,
        durationS: opts.durationS,
        warmupS: 1,
        onRound: (r, name, s) => opts.log(`  round ${r + 1} ${name}: ${Math.round(s.rps)} req/s, p99 ${s.p99} ms`),
      });
      const [v, f, b] = summaries;
      const failures = summaries.reduce((a, s) => a + s.errors + s.non2xx, 0);
      return {
        title: 'GET /jobs/:id (authenticated, request logging on; peers serve the same bytes read once)',
        settings: { rounds: opts.rounds, seconds: opts.durationS, connections: opts.connections, body_bytes: reply.body.length },
        rows: throughputRows(summaries, 'node:http'),
        checks: [
          check('VIDAX req/s ÷ Fastify req/s', v!.rps / f!.rps, '×', '≥ 1.0', v!.rps >= f!.rps),
          check('VIDAX req/s ÷ node:http req/s', v!.rps / b!.rps, '×', '≥ 0.5', v!.rps >= 0.5 * b!.rps),
          check('errors + non-2xx', failures, '', '0', failures === 0),
        ],
      };
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      ws.cleanup();
    }
  },
};

/** POST /jobs with the fixture workflow vs a bare loop doing the same durable writes, same concurrency. */
export const jobsPost: Bench = {
  key: 'jobs-post',
  describe: 'POST /jobs req/s vs a bare loop doing the same durable writes',
  async run(opts) {
    needFiles(...STORE_FILES);
    const ws = workspace('jobs-post');
    let vidax: RunningServer | undefined;
    try {
      vidax = await startVidax({ runsDir: `${ws.dir}/runs`, logFile: `${ws.dir}/vidax.log` });
      const body = jobBody();
      const template = readTemplate(`${ws.dir}/runs`, await createRun(vidax.url, body));
      const spec = {
        method: 'POST' as const,
        headers: authHeaders({ 'content-type': 'application/json' }),
        body,
        connections: opts.connections,
      };
      const summaries = await interleave({
        targets: [httpTarget(vidax, '/jobs', spec), durableLoop(`${ws.dir}/bare-runs`, template, opts.connections)],
        baseline: 'bare durable writes',
        rounds: opts.rounds,
        durationS: opts.durationS,
        warmupS: 1,
        onRound: (r, name, s) => opts.log(`  round ${r + 1} ${name}: ${Math.round(s.rps)} /s, p99 ${Math.round(s.p99)} ms`),
      });
      const [v] = summaries;
      const failures = v!.errors + v!.non2xx;
      return {
        title: `POST /jobs (fixture workflow-single.json, ${body.length} bytes) vs bare durable writes`,
        settings: { rounds: opts.rounds, seconds: opts.durationS, concurrency: opts.connections },
        rows: throughputRows(summaries, 'bare durable writes'),
        checks: [
          check('VIDAX creates/s ÷ bare loop writes/s', v!.ratio, '×', '≥ 0.5', v!.ratio >= 0.5),
          check('errors + non-2xx', failures, '', '0', failures === 0),
        ],
        notes: [
          'bare loop: no HTTP, no validation; per run mkdir, job.json, manifest.json (temp + fsync + rename), first event appended',
        ],
      };
    } finally {
      await vidax?.stop();
      ws.cleanup();
    }
  },
};
