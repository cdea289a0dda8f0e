import type { Bench } from './lib/bench.ts';
import { interleave } from './lib/compare.ts';
import { check, throughputRows } from './lib/results.ts';
import { startServer } from './lib/proc.ts';
import { authHeaders, buildVariant, httpTarget, startPeer, startVidax, workspace } from './lib/servers.ts';
import { sameAnswers } from './lib/verify.ts';

/** GET /health: VIDAX vs Fastify (default logging) vs bare node:http, interleaved. */
export const health: Bench = {
  key: 'health',
  describe: 'GET /health req/s and latency: VIDAX vs Fastify vs node:http',
  async run(opts) {
    const ws = workspace('health');
    const servers = [];
    try {
      servers.push(await startVidax({ runsDir: `${ws.dir}/runs`, logFile: `${ws.dir}/vidax.log` }));
      servers.push(await startPeer('fastify', { logFile: `${ws.dir}/fastify.log` }));
      servers.push(await startPeer('bare', { logFile: `${ws.dir}/bare.log` }));
      if (opts.variants) {
        const entry = buildVariant('vidax-buffered-log', ws.dir);
        servers.push(
          await startServer({
            name: 'VIDAX buffered log (experiment)',
            argv: [entry],
            env: { VIDAX_RUNS_DIR: `${ws.dir}/runs` },
            logFile: `${ws.dir}/vidax-buffered.log`,
          }),
        );
      }
      await sameAnswers(servers, '/health');
      const spec = { headers: authHeaders(), connections: opts.connections };
      const summaries = await interleave({
        targets: servers.map((s) => httpTarget(s, '/health', spec)),
        baseline: 'node:http',
        rounds: opts.rounds,
        durationS: opts.durationS,
        warmupS: 1,
        onRound: (r, name, s) => opts.log(`  round ${r + 1} ${name}: ${Math.round(s.rps)} req/s, p99 ${s.p99} ms`),
      });
      const [vidax, fastify, bare] = summaries;
      const failures = summaries.reduce((a, s) => a + s.errors + s.non2xx, 0);
      return {
        title: 'GET /health (authenticated, request logging on)',
        settings: { rounds: opts.rounds, seconds: opts.durationS, connections: opts.connections, log_sink: 'file' },
        rows: throughputRows(summaries, 'node:http'),
        checks: [
          check('VIDAX req/s ÷ Fastify req/s', vidax!.rps / fastify!.rps, '×', '≥ 1.0', vidax!.rps >= fastify!.rps),
          check('VIDAX req/s ÷ node:http req/s', vidax!.rps / bare!.rps, '×', '≥ 0.5', vidax!.rps >= 0.5 * bare!.rps),
          check('errors + non-2xx', failures, '', '0', failures === 0),
        ],
      };
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      ws.cleanup();
    }
  },
};
