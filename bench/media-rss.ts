import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { startSimulator } from '../test/support/simulator.ts';
import { type Bench, SkipBench } from './lib/bench.ts';
import { httpRequest } from './lib/http.ts';
import { median } from './lib/load.ts';
import { API_KEY } from './lib/proc.ts';
import { check, type Row } from './lib/results.ts';
import { workspace } from './lib/servers.ts';
import { startVidaxOn } from './lib/vidax-runs.ts';

const MB = 1024 * 1024;
const r1 = (n: number) => Math.round(n * 10) / 10;
const SECONDS = 10;

/** LoadVideo (the uploaded clip) → GetVideoComponents → CreateVideo with its own sound → SaveVideo. */
const CLIP_WORKFLOW = {
  '1': { class_type: 'LoadVideo', inputs: { file: 'placeholder.mp4' } },
  '2': { class_type: 'GetVideoComponents', inputs: { video: ['1', 0] } },
  '4': { class_type: 'CreateVideo', inputs: { images: ['2', 0], fps: ['2', 2] } },
  '5': { class_type: 'SaveVideo', inputs: { video: ['4', 0], filename_prefix: 'clip', format: 'mp4', codec: 'h264' } },
};

/**
 * VIDAX's own memory during the media phases (issue 13: within +30 MB of idle; ffmpeg's memory is
 * its own process's): the production bundle on the simulator, VmRSS of the VIDAX process sampled
 * every 25 ms while a run stabilizes and encodes a 10 s clip, against its idle RSS just before.
 */
export const mediaRss: Bench = {
  key: 'media-rss',
  describe: 'VIDAX RSS during stabilize + encode (real process, real ffmpeg) vs idle',
  async run(opts) {
    if (process.platform !== 'linux') throw new SkipBench('reads /proc/<pid>/status');
    // Run 1 is the first of a fresh process (its start loads code and grows the heap before any
    // media phase: reported, not checked); the check is on the runs of a VIDAX that has run before.
    const runs = opts.quick ? 2 : 4;
    const ws = workspace('media-rss');
    const sim = await startSimulator();
    try {
      const clip = join(ws.dir, 'clip.mp4');
      // A busy 320x240 picture (the simulator holds decoded frames in memory: small frames).
      await execa('ffmpeg', ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=24:duration=${SECONDS},noise=alls=20:allf=t`, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', clip]);
      const runsDir = join(ws.dir, 'runs');
      const vidax = await startVidaxOn(sim.url, { runsDir, logFile: join(ws.dir, 'vidax.log') });
      const rows: Row[] = [];
      let worst = 0;
      let growth = 0;
      try {
        for (let i = 0; i < runs; i++) {
          const form = new FormData();
          form.append('job', JSON.stringify({
            workflow: CLIP_WORKFLOW,
            params: [{ node: '1', input: 'file', input_file: 'clip' }],
            phases: { stabilize: { enabled: true } },
          }));
          form.append('clip', new Blob([new Uint8Array(readFileSync(clip))], { type: 'video/mp4' }), 'clip.mp4');
          const created = await fetch(`${vidax.url}/jobs`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: form });
          if (created.status !== 202) throw new Error(`POST /jobs: ${created.status} ${await created.text()}`);
          const { run_id: id } = (await created.json()) as { run_id: string };
          // Idle: a few requests, a pause, then 1 s of samples.
          for (let k = 0; k < 50; k++) await httpRequest(`${vidax.url}/health`, { headers: { 'x-api-key': API_KEY } });
          await new Promise((r) => setTimeout(r, 500));
          const idleSamples: number[] = [];
          for (let k = 0; k < 40; k++) {
            idleSamples.push(vidax.rss());
            await new Promise((r) => setTimeout(r, 25));
          }
          const idle = median(idleSamples);
          const samples: { at: number; rss: number }[] = [];
          const timer = setInterval(() => samples.push({ at: Date.now(), rss: vidax.rss() }), 25);
          try {
            const s = await httpRequest(`${vidax.url}/jobs/${id}/start`, { method: 'POST', headers: { 'x-api-key': API_KEY } });
            if (s.status !== 202) throw new Error(`start: ${s.status} ${s.body}`);
            for (;;) {
              const r = await httpRequest(`${vidax.url}/jobs/${id}`, { headers: { 'x-api-key': API_KEY } });
              const body = JSON.parse(r.body) as { run_status: string; error: unknown };
              if (body.run_status === 'failed') throw new Error(`run failed: ${JSON.stringify(body.error)}`);
              if (body.run_status === 'completed') break;
              await new Promise((res) => setTimeout(res, 200));
            }
          } finally {
            clearInterval(timer);
          }
          // The media phases' window, from the run's own events.
          const events = readFileSync(join(runsDir, id, 'logs', 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ts: string; type: string; phase?: string });
          const from = Date.parse(events.find((e) => e.type === 'phase.started' && e.phase === 'stabilize')?.ts ?? '');
          const to = Date.parse(events.find((e) => e.type === 'phase.completed' && e.phase === 'encode')?.ts ?? '');
          const during = samples.filter((x) => x.at >= from && x.at <= to).map((x) => x.rss);
          const atStart = samples.filter((x) => x.at < from).at(-1)?.rss ?? idle;
          if (during.length < 5) throw new Error(`only ${during.length} samples during the media phases`);
          const peak = Math.max(...during);
          if (i > 0) worst = Math.max(worst, peak - idle);
          growth = Math.max(growth, peak - atStart);
          rows.push({
            target: i === 0 ? 'run 1 (first of a fresh process)' : `run ${i + 1}`,
            'idle RSS MB': r1(idle / MB),
            'median during phases MB': r1(median(during) / MB),
            'at stabilize start MB': r1(atStart / MB),
            'peak during phases MB': r1(peak / MB),
            'peak − idle MB': r1((peak - idle) / MB),
            'peak − at stabilize start MB': r1((peak - atStart) / MB),
            'phases s': r1((to - from) / 1000),
            samples: during.length,
          });
          opts.log(`  run ${i + 1}: idle ${r1(idle / MB)} MB, peak ${r1(peak / MB)} MB during ${r1((to - from) / 1000)} s of stabilize + encode`);
        }
      } finally {
        await vidax.stop();
      }
      return {
        title: 'VIDAX RSS during the media phases',
        settings: { runs, clip: `${SECONDS} s 320x240 24 fps + noise`, phases: 'stabilize + encode (defaults)', sample_ms: 25 },
        rows,
        checks: [
          check('VIDAX peak RSS during stabilize + encode − idle (runs 2…)', worst / MB, 'MB', '≤ +30 MB', worst / MB <= 30),
          check('VIDAX RSS growth within the media phases (peak − at stabilize start, every run)', growth / MB, 'MB', '≤ +30 MB', growth / MB <= 30),
        ],
        notes: [
          'production bundle (`npm start` flags), simulator as ComfyUI; idle = median VmRSS over 1 s after 50 GET /health and the upload, just before the start; window = phase.started(stabilize) … phase.completed(encode)',
          "run 1's growth over idle happens before any media phase: the first run's start (prepare, the ComfyUI WebSocket, the comfyui phase's download of the clip) loads code and grows the heap once",
        ],
      };
    } finally {
      await sim.stop();
      ws.cleanup();
    }
  },
};
