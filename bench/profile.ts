// `node --import tsx bench/profile.ts <vidax|fastify|bare> [path] [seconds]`: loads one server under
// `node --cpu-prof` with autocannon and prints where its CPU time goes (see profile-summary.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cannon } from './lib/load.ts';
import { createRun } from './lib/runs.ts';
import { ROOT, startServer } from './lib/proc.ts';
import { authHeaders, BUNDLE, buildBundle, workspace } from './lib/servers.ts';
import { summarise } from './profile-summary.ts';

// A path containing `{run}` gets the id of a run created first through POST /jobs (vidax only).
const [which = 'vidax', pathArg = '/health', seconds = '8'] = process.argv.slice(2);
const ws = workspace('profile');
const profDir = join(ws.dir, 'prof');
const script = which === 'vidax' ? BUNDLE : join(ROOT, 'bench', 'peers', `${which}.mjs`);
if (which === 'vidax') buildBundle();
const server = await startServer({
  name: which,
  argv: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, script],
  env: { VIDAX_RUNS_DIR: join(ws.dir, 'runs'), ...(process.env.BENCH_PEER_ENV ? JSON.parse(process.env.BENCH_PEER_ENV) : {}) },
  logFile: join(ws.dir, 'server.log'),
});
try {
  const path = pathArg.includes('{run}') ? pathArg.replace('{run}', await createRun(server.url)) : pathArg;
  const sample = await cannon({ url: `${server.url}${path}`, headers: authHeaders(), connections: 16, durationS: Number(seconds) });
  process.stdout.write(`${which} ${pathArg}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99} ms, non2xx ${sample.non2xx}\n`);
} finally {
  await server.stop();
}
const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error('no profile written');
process.stdout.write(summarise(JSON.parse(readFileSync(join(profDir, file), 'utf8')), Number(process.env.TOP ?? 30)));
if (process.env.KEEP_PROFILE) process.stdout.write(`profile kept at ${join(profDir, file)}\n`);
else ws.cleanup();
