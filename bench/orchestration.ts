import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../test/support/simulator.ts';
import type { Bench } from './lib/bench.ts';
import { openDirectClient, type DirectTimes } from './lib/comfyui-direct.ts';
import { median, percentile } from './lib/load.ts';
import { needFiles } from './lib/needs.ts';
import { check, type Row } from './lib/results.ts';
import { workspace } from './lib/servers.ts';
import { closeVidaxAgent, fixtureGraph, startVidaxOn, timeVidaxRun, type VidaxRun, withPrefix } from './lib/vidax-runs.ts';
import { startWsTap } from './lib/ws-tap.ts';
import { summarise } from './profile-summary.ts';

const r2 = (n: number) => Math.round(n * 100) / 100;
const stats = (xs: number[]) => ({ 'median ms': r2(median(xs)), 'p90 ms': r2(percentile(xs, 90)), 'min ms': r2(Math.min(...xs)), 'max ms': r2(Math.max(...xs)) });

/** One step of VidaxSlowSteps longer than the runner's 500 ms progress throttle: every step's event is due at once. */
const STEPS = 3;
const STEP_MS = 550;

function slowGraph(): Record<string, unknown> {
  const g = fixtureGraph();
  const save = Object.entries(g).find(([, n]) => n.class_type === 'SaveImage');
  const source = Object.keys(g).find((k) => g[k]!.class_type !== 'SaveImage');
  if (!save || !source) throw new Error('fixture workflow has no SaveImage fed by another node');
  g.slow = { class_type: 'VidaxSlowSteps', inputs: { images: [source, 0], steps: STEPS, step_ms: STEP_MS } };
  save[1].inputs.images = ['slow', 0];
  return g;
}

/**
 * Orchestration overhead (issue 6): POST /jobs/:id/start → manifest.json `completed`, minus the same
 * workflow run by a minimal direct client, interleaved pair by pair on one simulator (--cache-none).
 * Then: ComfyUI's `progress` frame leaving the socket → its `comfyui.progress` line in events.jsonl.
 */
export const orchestration: Bench = {
  key: 'orchestration',
  describe: 'start → completed on the ComfyUI simulator minus a direct client; progress → events.jsonl latency',
  async run(opts) {
    needFiles('simulator/main.ts', 'lib/runner/runner.ts', 'functions/jobs-id-start.post.ts');
    const pairs = Number(process.env.BENCH_ORCH_PAIRS ?? (opts.quick ? 6 : 40));
    const progressRuns = opts.quick ? 2 : 10;
    const warmup = opts.quick ? 2 : 5;
    const profile = process.env.BENCH_ORCH_PROF === '1';
    const loadAtStart = r2(loadavg()[0] ?? 0);
    const ws = workspace('orch');
    const sim = await startSimulator({ args: ['--cache-none'] });
    const cleanups: (() => Promise<void> | void)[] = [() => sim.stop(), () => ws.cleanup(), () => closeVidaxAgent()];
    try {
      // BENCH_ORCH_RUNS_BASE=/dev/shm: a diagnostic run on tmpfs, where fsync costs nothing (not the production setting)
      const runsBase = process.env.BENCH_ORCH_RUNS_BASE;
      const runsDir = runsBase ? mkdtempSync(join(runsBase, 'vidax-orch-runs-')) : join(ws.dir, 'runs');
      if (runsBase) cleanups.push(() => rmSync(runsDir, { recursive: true, force: true }));
      const profDir = join(ws.dir, 'prof');
      const vidax = await startVidaxOn(sim.url, {
        runsDir,
        logFile: join(ws.dir, 'vidax.log'),
        nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
      });
      cleanups.unshift(() => vidax.stop());
      const direct = await openDirectClient(sim.url);
      cleanups.unshift(() => direct.close());
      const graph = fixtureGraph();
      const outDir = join(ws.dir, 'direct');
      let n = 0;
      const directRun = () => {
        const dir = join(outDir, String(n++));
        mkdirSync(dir, { recursive: true });
        return direct.run(withPrefix(graph, `direct/${n}`), dir);
      };
      for (let i = 0; i < warmup; i++) {
        await timeVidaxRun(vidax, runsDir);
        await directRun();
      }
      const v: VidaxRun[] = [];
      const d: DirectTimes[] = [];
      for (let i = 0; i < pairs; i++) {
        // alternate which goes first so neither always runs on a cooler machine
        if (i % 2 === 0) {
          v.push(await timeVidaxRun(vidax, runsDir));
          d.push(await directRun());
        } else {
          d.push(await directRun());
          v.push(await timeVidaxRun(vidax, runsDir));
        }
        if ((i + 1) % 10 === 0 || opts.quick) opts.log(`  pair ${i + 1}/${pairs}: VIDAX ${r2(v[i]!.total)} ms, direct ${r2(d[i]!.total)} ms`);
      }
      await vidax.stop();
      const vt = v.map((r) => r.total);
      const dt = d.map((r) => r.total);
      const diff = vt.map((t, i) => t - dt[i]!);

      // --- progress latency, through the frame-timestamping relay ---
      const frames = new Map<string, number>();
      const tap = await startWsTap(new URL(sim.url), (text, at) => {
        const msg = JSON.parse(text) as { type?: string; data?: { node?: unknown; value?: unknown; max?: unknown } };
        if (msg.type === 'progress') frames.set(`${msg.data?.node}|${msg.data?.value}|${msg.data?.max}`, at);
      });
      cleanups.unshift(() => tap.close());
      const runsDir2 = join(ws.dir, 'runs-progress');
      const vidax2 = await startVidaxOn(tap.url, { runsDir: runsDir2, logFile: join(ws.dir, 'vidax2.log'), name: 'VIDAX (via relay)' });
      cleanups.unshift(() => vidax2.stop());
      const body = JSON.stringify({ workflow: slowGraph() });
      const lat: number[] = [];
      let unmatched = 0;
      await timeVidaxRun(vidax2, runsDir2, body); // warm-up
      for (let i = 0; i < progressRuns; i++) {
        frames.clear();
        const run = await timeVidaxRun(vidax2, runsDir2, body);
        for (const line of run.lines.filter((l) => l.type === 'comfyui.progress')) {
          const sent = frames.get(`${line.event.node}|${line.event.value}|${line.event.max}`);
          if (sent === undefined) unmatched++;
          else lat.push(line.at - sent);
        }
      }
      opts.log(`  progress: ${lat.length} events, median ${r2(median(lat))} ms, max ${r2(Math.max(...lat))} ms`);

      const rows: Row[] = [
        { target: 'VIDAX: POST /jobs/:id/start → manifest `completed`', ...stats(vt) },
        { target: 'direct client: POST /prompt → outputs on disk', ...stats(dt) },
        { target: 'overhead (paired difference)', ...stats(diff) },
        { target: `progress frame sent → line in events.jsonl (${lat.length} events)`, ...stats(lat) },
      ];
      const keys = [...new Set(v.flatMap((r) => Object.keys(r.marks)))];
      const timeline = keys
        .map((k) => ({ k, ms: median(v.map((r) => r.marks[k]).filter((x): x is number => x !== undefined)) }))
        .sort((a, b) => a.ms - b.ms);
      const med = (pick: (t: DirectTimes) => number) => r2(median(d.map(pick)));
      const notes = [
        `VIDAX timeline (median ms after the start was sent): 202 answered ${r2(median(v.map((r) => r.answered)))}, ${timeline.map((t) => `${t.k} ${r2(t.ms)}`).join(', ')}, manifest completed ${r2(median(vt))}`,
        `direct timeline (median ms after POST /prompt was sent): queued ${med((t) => t.queued)}, executing{node:null} ${med((t) => t.executed)}, history ${med((t) => t.history)}, outputs on disk ${med((t) => t.total)}`,
        `VIDAX runs slower than 500 ms: ${v.filter((r) => r.total > 500).length} of ${v.length} (a run that misses the WebSocket hint waits for the runner's 1 s history poll)`,
        `durable manifest writes per VIDAX run (atomic renames of manifest.json seen by inotify, start → completed): median ${median(v.map((r) => r.manifestWrites))}`,
        'method: VIDAX end = inotify (fs.watch) on the run folder seeing manifest.json renamed with run_status `completed` (a 20 ms file poll backs it up: ' +
          `${v.filter((r) => r.polled).length} of ${v.length} ends came from it); direct = one WebSocket opened once with a clientId, POST /prompt with client_id + prompt_id, ` +
          'wait for executing {node:null}, GET /history/{id}, GET /view streamed to a file; keep-alive HTTP for both; simulator --cache-none, fresh filename_prefix per run',
        `progress: VIDAX reaches the simulator through a TCP relay in the bench process that timestamps each \`progress\` WebSocket frame as it hands it on; the matching comfyui.progress line is timestamped by inotify on events.jsonl, same clock (VidaxSlowSteps steps=${STEPS} step_ms=${STEP_MS}, longer than the 500 ms progress throttle, so no event is held back on purpose; ${unmatched} unmatched)`,
      ];
      if (profile) {
        const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
        if (file) {
          const summary = summarise(JSON.parse(readFileSync(join(profDir, file), 'utf8')), 15);
          opts.log(summary);
          notes.push(`CPU profile of VIDAX during the pairs (top self time):\n\n\`\`\`\n${summary}\n\`\`\``);
        }
      }
      const medDiff = median(diff);
      const p90Lat = percentile(lat, 90);
      return {
        title: 'Orchestration overhead on the ComfyUI simulator',
        settings: { pairs, warmup_pairs: warmup, workflow: 'fixtures/comfyui/workflow-single.json', simulator: '--cache-none', progress_runs: progressRuns, load_1m_at_start: loadAtStart, runs_dir: runsBase ? `${runsBase} (diagnostic)` : 'tmpdir (disk)' },
        rows,
        checks: [
          check('median overhead (VIDAX − direct, paired)', medDiff, 'ms', '< 10 ms', medDiff < 10),
          check('progress frame → events.jsonl, p90', p90Lat, 'ms', '< 10 ms', p90Lat < 10),
        ],
        notes,
      };
    } finally {
      for (const c of cleanups) await c();
    }
  },
};
