// `npm run demo`: VIDAX with the ComfyUI simulator as its managed ComfyUI, a temporary runs
// directory and a generated key; submits the sample job, follows it to the end, keeps serving.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../adapters/node.ts';
import { parseConfig } from '../lib/config.ts';
import { createJsonLogger } from '../lib/logger.ts';

const ROOT = join(import.meta.dirname, '..');

async function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => {
        const got = (s.address() as { port: number }).port;
        s.close(() => resolve(got));
      });
    });
  return (await tryPort(preferred)) ?? ((await tryPort(0)) as number);
}

const base = mkdtempSync(join(tmpdir(), 'vidax-demo-'));
const apiKey = randomBytes(24).toString('hex');
const comfyuiPort = await freePort(8188);
const config = parseConfig(
  {
    apiKey,
    port: await freePort(8787),
    runsDir: join(base, 'runs'),
    comfyui: {
      url: `http://127.0.0.1:${comfyuiPort}`,
      command: [
        process.execPath, '--import', import.meta.resolve('tsx'), join(ROOT, 'simulator', 'main.ts'),
        '--listen', '127.0.0.1', '--port', String(comfyuiPort), '--output-directory', join(base, 'comfyui-output'),
      ],
      startTimeoutMs: 20_000,
      stopOnExit: true, // the demo's simulator goes with it
    },
  },
  base,
);
const logFile = join(base, 'vidax.log');
const { createWriteStream } = await import('node:fs');
const logStream = createWriteStream(logFile, { flags: 'a' });
const running = await startServer({ config, log: createJsonLogger((line) => logStream.write(line)) });
const say = (s = '') => process.stdout.write(`${s}\n`);
say(`VIDAX demo listening on ${running.url}  (request log: ${logFile})`);
say(`API key (generated for this demo): ${apiKey}`);

const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${running.url}${path}`, {
    method,
    headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};

const job = JSON.parse(readFileSync(join(ROOT, 'scripts', 'demo-job.json'), 'utf8'));
const created = await call('POST', '/jobs', job);
const id = String(created.run_id);
say(`\nPOST /jobs             → 202 run ${id}`);
say('POST /jobs/:id/start   → starting the simulator as the managed ComfyUI…');
await call('POST', `/jobs/${id}/start`);
let last = '';
let status: Record<string, unknown> = {};
for (;;) {
  status = await call('GET', `/jobs/${id}`);
  const phases = status.phases as Record<string, { status: string; progress?: { value: number; max: number } | null; queue_position?: number | null }>;
  const line = Object.entries(phases)
    .map(([name, p]) => `${name}:${p.status}${p.progress ? ` ${p.progress.value}/${p.progress.max}` : ''}`)
    .join('  ');
  if (line !== last) say(`  ${status.run_status}  ${line}`);
  last = line;
  if (status.run_status === 'completed' || status.run_status === 'failed') break;
  await sleep(100);
}
const workdir = String(status.workdir);
say(`\nrun ${id} ended: run_status=${status.run_status} exit_status=${status.exit_status}`);
say(`  manifest:  ${status.manifest}`);
say(`  event log: ${join(workdir, 'logs', 'events.jsonl')}`);
say(`  final.mp4: ${join(workdir, 'final.mp4')}`);
const k = `-H 'X-API-Key: ${apiKey}'`;
say('\nStill serving. Try:');
say(`  curl ${k} ${running.url}/health`);
say(`  curl ${k} ${running.url}/comfyui/health`);
say(`  curl ${k} ${running.url}/jobs/${id}`);
say(`  curl ${k} ${running.url}/jobs/${id}/logs`);
say('A new run from any folder: create it, then start it, then follow it:');
say(`  id=$(curl -s ${k} -H 'content-type: application/json' -d @${join(ROOT, 'scripts', 'demo-job.json')} ${running.url}/jobs | sed -E 's/.*"run_id":"([^"]+)".*/\\1/')`);
say(`  curl ${k} -X POST ${running.url}/jobs/$id/start`);
say(`  curl ${k} ${running.url}/jobs/$id`);
say(`Ctrl-C stops VIDAX and its simulator, and removes ${base}.`);

// Ctrl-C reaches npm and this process, and npm forwards it again: the first signal stops, later
// ones are ignored so they cannot cut the shutdown short. The temporary folder goes with it.
let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  say(`\n${signal}: stopping VIDAX and the simulator…`);
  running.close().then(
    () => {
      logStream.end();
      rmSync(base, { recursive: true, force: true });
      process.exit(0);
    },
    () => process.exit(1),
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
