import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { startSimulator } from '../test/support/simulator.ts';
import type { Bench } from './lib/bench.ts';
import { openDirectClient } from './lib/comfyui-direct.ts';
import { httpRequest } from './lib/http.ts';
import { median, percentile } from './lib/load.ts';
import { freePort, ROOT, startServer } from './lib/proc.ts';
import { START_NODE_FLAGS } from './lib/start-flags.ts';
import { check, type Row } from './lib/results.ts';
import { authHeaders, workspace } from './lib/servers.ts';
import { closeVidaxAgent, startVidaxOn } from './lib/vidax-runs.ts';

const r2 = (n: number) => Math.round(n * 100) / 100;
const stats = (xs: number[]) => ({ 'median ms': r2(median(xs)), 'p90 ms': r2(percentile(xs, 90)), 'min ms': r2(Math.min(...xs)), 'max ms': r2(Math.max(...xs)) });
/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); null elsewhere. */
const cpuMs = (pid: number): number | null => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return null;
  }
};
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** 512×512 EmptyImage → SaveImage; `color` varies per run so ComfyUI never answers from its cache. */
const graph = (color: number, prefix: string) => ({
  '1': { class_type: 'EmptyImage', inputs: { width: 512, height: 512, batch_size: 1, color } },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: prefix } },
});

/**
 * A real ComfyUI from the start script `VIDAX_TEST_COMFYUI` names (run as `script PORT`, the
 * contract suite's convention; CI points it at the sibling shared folder), or null.
 */
async function startRealComfyUI(base: string): Promise<{ url: string; stop: () => Promise<void> } | null> {
  const script = process.env.VIDAX_TEST_COMFYUI;
  if (!script || !existsSync(script)) return null;
  const port = await freePort();
  mkdirSync(base, { recursive: true });
  const child = spawn(script, [String(port)], { env: { ...process.env, COMFYUI_BASE_DIR: base }, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && child.exitCode === null) {
    const ok = await fetch(`${url}/system_stats`).then((r) => r.ok, () => false);
    if (ok) return { url, stop };
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  return null;
}

/**
 * VIDAX's cost per job over a direct ComfyUI client (issue 14): a 512×512 EmptyImage → SaveImage
 * created, started and finished, the output downloaded and hashed. VIDAX: one POST /jobs with
 * `"start": true` and `Prefer: wait=60`, answered 200 once the run completed (VIDAX downloaded and
 * hashed the output into the run dir, durably); `phases.encode.enabled: false`, since the direct
 * client makes no video either (the encode phase runs ffmpeg: benched on its own against bare ffmpeg). Direct: WebSocket + POST /prompt + history +
 * GET /view to a file, then sha256 of it. Interleaved pairs on one ComfyUI.
 */
export const overhead: Bench = {
  key: 'overhead',
  describe: 'per-job cost of VIDAX (start:true + Prefer: wait) over a direct ComfyUI client, real ComfyUI when it starts',
  async run(opts) {
    const pairs = Number(process.env.BENCH_OVERHEAD_PAIRS ?? (opts.quick ? 6 : 30));
    const warmup = opts.quick ? 2 : 4;
    const ws = workspace('overhead');
    const cleanups: (() => Promise<void> | void)[] = [() => ws.cleanup(), () => closeVidaxAgent()];
    try {
      let comfy = await startRealComfyUI(join(ws.dir, 'comfyui'));
      const which = comfy ? 'a real ComfyUI (VIDAX_TEST_COMFYUI)' : 'the ComfyUI simulator (no real ComfyUI: set VIDAX_TEST_COMFYUI to its start script)';
      if (!comfy) {
        const sim = await startSimulator({ args: ['--cache-none'] });
        comfy = { url: sim.url, stop: () => sim.stop() };
      }
      cleanups.unshift(() => comfy.stop());
      opts.log(`  on ${which}`);
      const runsDir = join(ws.dir, 'runs');
      const vidax = await startVidaxOn(comfy.url, { runsDir, logFile: join(ws.dir, 'vidax.log') });
      cleanups.unshift(() => vidax.stop());
      // BENCH_OVERHEAD_AGAINST=<another tree's dist/vidax.mjs>: that build too, in the same rounds (a before/after).
      const againstBundle = process.env.BENCH_OVERHEAD_AGAINST;
      const against = againstBundle
        ? await startServer({
            name: 'VIDAX (other build)',
            argv: [...START_NODE_FLAGS, againstBundle],
            env: { VIDAX_RUNS_DIR: join(ws.dir, 'runs-other'), VIDAX_COMFYUI_URL: comfy.url },
            logFile: join(ws.dir, 'vidax-other.log'),
            cwd: ROOT,
          })
        : null;
      if (against) cleanups.unshift(() => against.stop());
      const direct = await openDirectClient(comfy.url);
      cleanups.unshift(() => direct.close());
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      cleanups.push(() => agent.destroy());
      let n = 0;
      /** Where VIDAX's time goes, from each measured run's events.jsonl (ms timestamps, wall clock). */
      const steps: Record<string, number[]> = {};
      const STEPS: [string, (e: { type: string; phase?: unknown }) => boolean][] = [
        ['run.created logged (body parsed, health, create write sequence)', (e) => e.type === 'run.created'],
        ['comfyui.queued logged (POST /prompt answered)', (e) => e.type === 'comfyui.queued'],
        ['comfyui.started logged (ComfyUI runs it)', (e) => e.type === 'comfyui.started'],
        ['comfyui.output_downloaded logged (history, /view, sha256, fsync)', (e) => e.type === 'comfyui.output_downloaded'],
        ['run.completed logged', (e) => e.type === 'run.completed'],
      ];
      const add = (label: string, ms: number) => {
        steps[label] = [...(steps[label] ?? []), ms];
      };
      const breakdown = (runId: string, sentAt: number, answeredAt: number) => {
        const events = readFileSync(join(runsDir, runId, 'logs', 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ts: string; type: string });
        for (const [label, is] of STEPS) {
          const e = events.find(is);
          if (e) add(label, Date.parse(e.ts) - sentAt);
        }
        add('200 received (manifest completed, answer sent)', answeredAt - sentAt);
      };
      let measuring = false;
      const directSteps: Record<'queued' | 'executed' | 'history' | 'total', number[]> = { queued: [], executed: [], history: [], total: [] };
      const runVidax = async (url = vidax.url) => {
        // encode off: the direct client makes no video either (encode has its own bench against bare ffmpeg)
        const body = JSON.stringify({ workflow: graph(n++ % 256, 'ovh'), start: true, phases: { encode: { enabled: false } } });
        const sentAt = Date.now();
        const t0 = performance.now();
        const reply = await httpRequest(`${url}/jobs`, { method: 'POST', headers: authHeaders({ 'content-type': 'application/json', prefer: 'wait=60' }), body, agent, timeoutMs: 70_000 });
        const ms = performance.now() - t0;
        const answeredAt = Date.now();
        const summary = JSON.parse(reply.body) as { run_status?: string; run_id?: string };
        if (reply.status !== 200 || summary.run_status !== 'completed') throw new Error(`POST /jobs start:true answered ${reply.status}: ${reply.body.slice(0, 300)}`);
        if (measuring && url === vidax.url) breakdown(String(summary.run_id), sentAt, answeredAt);
        return ms;
      };
      const runDirect = async () => {
        const dir = join(ws.dir, 'direct', String(n));
        mkdirSync(dir, { recursive: true });
        const t0 = performance.now();
        const times = await direct.run(graph(n++ % 256, `direct/${n}`), dir);
        for (const f of readdirSync(dir)) sha256(join(dir, f));
        const total = performance.now() - t0;
        if (measuring) {
          directSteps.queued.push(times.queued);
          directSteps.executed.push(times.executed);
          directSteps.history.push(times.history);
          directSteps.total.push(total);
        }
        return total;
      };
      const runOther = async () => runVidax(against?.url);
      for (let i = 0; i < warmup; i++) {
        await runVidax();
        await runDirect();
        if (against) await runOther();
      }
      const v: number[] = [];
      const d: number[] = [];
      const o: number[] = [];
      measuring = true;
      const cpuBefore = [cpuMs(vidax.pid), against ? cpuMs(against.pid) : null];
      for (let i = 0; i < pairs; i++) {
        // Each round runs every side once, the order rotated.
        const sides = [async () => v.push(await runVidax()), async () => d.push(await runDirect()), ...(against ? [async () => o.push(await runOther())] : [])];
        for (let k = 0; k < sides.length; k++) await (sides[(i + k) % sides.length] as () => Promise<number>)();
        if ((i + 1) % 10 === 0 || opts.quick) opts.log(`  round ${i + 1}/${pairs}: VIDAX ${r2(v[i] as number)} ms, direct ${r2(d[i] as number)} ms${against ? `, other build ${r2(o[i] as number)} ms` : ''}`);
      }
      const cpuAfter = [cpuMs(vidax.pid), against ? cpuMs(against.pid) : null];
      const perJob = (i: number) => (cpuBefore[i] != null && cpuAfter[i] != null ? r2(((cpuAfter[i] as number) - (cpuBefore[i] as number)) / pairs) : 'n/a');
      const diff = v.map((t, i) => t - (d[i] as number));
      const rows: Row[] = [
        { target: 'VIDAX: POST /jobs {start:true} + Prefer: wait=60 → 200 completed', ...stats(v) },
        { target: 'direct client: POST /prompt → output on disk, sha256', ...stats(d) },
        { target: 'overhead (paired difference)', ...stats(diff) },
        ...(against
          ? [
              { target: 'other build (BENCH_OVERHEAD_AGAINST), same rounds', ...stats(o) },
              { target: 'other build overhead (paired difference)', ...stats(o.map((t, i) => t - (d[i] as number))) },
            ]
          : []),
        { target: 'VIDAX CPU per job (user + system, /proc, over the measured rounds)', 'median ms': perJob(0) },
        ...(against ? [{ target: 'other build CPU per job (user + system, /proc)', 'median ms': perJob(1) }] : []),
        ...Object.entries(steps).map(([label, xs]) => ({ target: `VIDAX step, ms after the request was sent: ${label}`, ...stats(xs) })),
        { target: 'direct step: POST /prompt answered', ...stats(directSteps.queued) },
        { target: 'direct step: executing {node:null} received', ...stats(directSteps.executed) },
        { target: 'direct step: history received', ...stats(directSteps.history) },
        { target: 'direct step: output on disk and hashed', ...stats(directSteps.total) },
      ];
      const medDiff = median(diff);
      return {
        title: `Per-job overhead of VIDAX over a direct client, on ${which}`,
        settings: { pairs, warmup_pairs: warmup, workflow: '512×512 EmptyImage → SaveImage', comfyui: which },
        rows,
        checks: [check('median overhead (VIDAX − direct, paired)', medDiff, 'ms', '< 10 ms', medDiff < 10)],
        notes: [
          'VIDAX keeps its durability: job.json, the manifest writes, workflow.json and the output are fsynced before the 200',
          'the jobs disable encode (no final.mp4: ffmpeg is no part of the orchestration cost; the media benches measure it)',
          'both sides use keep-alive HTTP; the direct client keeps one WebSocket open, as VIDAX does',
        ],
      };
    } finally {
      for (const c of cleanups) await c();
    }
  },
};
