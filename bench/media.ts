import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { MEDIA_CONFIG } from '../test/support/media.ts';
import { encodeArgs, encodeFinal } from '../lib/media/encode.ts';
import type { MediaEnv } from '../lib/media/env.ts';
import type { FfmpegProgress } from '../lib/media/ffmpeg.ts';
import { hashFile } from '../lib/media/hash.ts';
import { readMp4Head } from '../lib/media/mp4-head.ts';
import { probeMedia } from '../lib/media/probe.ts';
import { pickCurrent } from '../lib/media/source.ts';
import { INTERMEDIATE, stabilize, stabilizeFilters } from '../lib/media/stabilize.ts';
import { detectMediaTools } from '../lib/media/tools.ts';
import { SkipBench, type Bench } from './lib/bench.ts';
import { median } from './lib/load.ts';
import { check, type Row } from './lib/results.ts';
import { workspace } from './lib/servers.ts';

const r3 = (n: number) => Math.round(n * 1000) / 1000;
const FPS = 24;

/** Runs ffmpeg bare: the same binary and arguments, no progress pipe, nothing around it. */
async function bare(cwd: string, args: string[]): Promise<void> {
  await execa('ffmpeg', ['-hide_banner', '-nostdin', '-y', '-v', 'error', ...args], { cwd, stdin: 'ignore', stdout: 'ignore' });
}

/** CPU seconds of this process and its waited-for children (/proc/self/stat utime+stime+cutime+cstime). */
const cpuS = () => {
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /s, '').split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / 100; // fields 14-17, in clock ticks (USER_HZ 100)
};

/** Wall and CPU time (this process + its ffmpeg/ffprobe children) of one trial. */
const timed = async (f: () => Promise<unknown>) => {
  const [t0, c0] = [performance.now(), cpuS()];
  await f();
  return { wall: performance.now() - t0, cpu: (cpuS() - c0) * 1000 };
};

interface Case {
  name: string;
  /** One VIDAX run in a fresh run dir (the phase's code, as the runner calls it). */
  vidax(dir: string): Promise<unknown>;
  /** The same ffmpeg command(s) run bare on the same input. */
  bare(dir: string): Promise<unknown>;
  /** VIDAX's steps around ffmpeg, done again on a finished VIDAX run dir (ffprobe, sha256). */
  extras(dir: string): Promise<unknown>;
}

/**
 * Media phases against bare ffmpeg (issue 13): encode of a 10 s 720p frame sequence (240 PNGs) and
 * of a 10 s 720p video, and stabilize (two passes) of that video, each through VIDAX's phase code
 * (staging, ffprobe, ffmpeg with -progress parsed, ffprobe of the output, sha256, fsync, rename)
 * and as the same ffmpeg command run bare, interleaved pair by pair in this process.
 */
export const media: Bench = {
  key: 'media',
  describe: 'encode (720p frames, 720p video) and stabilize through VIDAX\'s phase code vs the same ffmpeg commands run bare',
  async run(opts) {
    const tools = await detectMediaTools(MEDIA_CONFIG);
    if (!tools.ok || !tools.vidstab) throw new SkipBench(`needs ffmpeg with libx264 and libvidstab (${tools.problems.join('; ')})`);
    const rounds = opts.quick ? 1 : Math.max(3, opts.rounds);
    const seconds = opts.quick ? 2 : 10;
    const ws = workspace('media');
    try {
      // Inputs: a moving 720p picture (testsrc2) as PNG frames and as H.264 + AAC.
      const src = join(ws.dir, 'src');
      mkdirSync(join(src, 'outputs'), { recursive: true });
      opts.log(`  making ${seconds} s of 1280x720 at ${FPS} fps (PNG frames and an mp4)`);
      await bare(src, ['-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS}:duration=${seconds}`, 'outputs/f_%05d_.png']);
      await bare(src, ['-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS}:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=300:duration=${seconds}`, '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', 'outputs/clip.mp4']);
      // The duration encode passes as -t for a video: what its ffprobe says (as VIDAX does).
      const clipS = (await probeMedia('ffprobe', src, 'outputs/clip.mp4', { failCode: 'ENCODE_FAILED' })).duration_s ?? seconds;
      const frames = readdirSync(join(src, 'outputs')).filter((f) => f.endsWith('.png')).sort().map((f) => `outputs/${f}`);
      let n = 0;
      /** A run dir whose outputs/ are hard links to the inputs (as ComfyUI's downloads would be). */
      const runDir = (files: string[]) => {
        n += 1;
        const dir = join(ws.dir, `run-${n}`);
        mkdirSync(join(dir, 'outputs'), { recursive: true });
        for (const f of files) linkSync(join(src, f), join(dir, f));
        return dir;
      };
      let progressCalls = 0;
      const onProgress = (_p: FfmpegProgress) => {
        progressCalls += 1;
      };
      const env = (workdir: string): MediaEnv => ({ workdir, tools, config: MEDIA_CONFIG, onProgress });
      const enc = (withAudio: 'none' | 'source', durationS: number) => encodeArgs({ encoder: 'libx264', withAudio, durationS, out: 'final.mp4' });
      const f = stabilizeFilters({}, 'transforms.trf');
      const cases: Case[] = [
        {
          name: `encode ${frames.length} PNG frames (720p) → final.mp4`,
          vidax: async (dir) => encodeFinal(env(dir), await pickCurrent(dir, frames.map((path) => ({ path })), FPS), {}, []),
          bare: (dir) => bare(dir, ['-f', 'image2', '-framerate', String(FPS), '-i', 'outputs/f_%05d_.png', ...enc('none', frames.length / FPS)]),
          extras: (dir) => around(dir, [], 'final.mp4'),
        },
        {
          name: `encode ${seconds} s 720p H.264+AAC video → final.mp4`,
          vidax: async (dir) => encodeFinal(env(dir), await pickCurrent(dir, [{ path: 'outputs/clip.mp4' }], FPS), {}, []),
          bare: (dir) => bare(dir, ['-i', 'outputs/clip.mp4', ...enc('source', clipS)]),
          extras: async (dir) => {
            await readMp4Head(join(dir, 'outputs/clip.mp4'));
            await around(dir, [], 'final.mp4');
          },
        },
        {
          name: `stabilize ${seconds} s 720p video (vidstabdetect + vidstabtransform)`,
          vidax: async (dir) => stabilize(env(dir), { kind: 'video', path: 'outputs/clip.mp4' }, {}),
          bare: async (dir) => {
            await bare(dir, ['-i', 'outputs/clip.mp4', '-map', '0:v:0', '-vf', f.detect, '-f', 'null', '-']);
            await bare(dir, ['-i', 'outputs/clip.mp4', '-map', '0:v:0', '-map', '0:a?', '-vf', f.transform, ...INTERMEDIATE, 'stabilized.mkv']);
          },
          extras: (dir) => around(dir, [], 'stabilize/stabilized.mkv', 'stabilize/transforms.trf'),
        },
      ];
      /** ffprobe of the inputs VIDAX probes and of its output, sha256 of what it keeps. */
      const around = async (dir: string, inputs: string[], out: string, ...hashed: string[]) => {
        for (const rel of [...inputs, out]) await probeMedia('ffprobe', dir, rel, { failCode: 'ENCODE_FAILED' });
        for (const rel of [out, ...hashed]) await hashFile(join(dir, rel));
      };
      const rows: Row[] = [];
      const checks = [];
      for (const c of cases) {
        const times = { vidax: [] as number[], bare: [] as number[], extras: [] as number[] };
        const ratios: number[] = [];
        const cpuRatios: number[] = [];
        for (let i = 0; i < rounds; i++) {
          // Alternate who goes first: a load spike hurts both sides alike over the rounds.
          const order = i % 2 === 0 ? (['vidax', 'bare'] as const) : (['bare', 'vidax'] as const);
          const got: Record<string, { wall: number; cpu: number }> = {};
          for (const who of order) {
            const files = c.name.includes('PNG') ? frames : ['outputs/clip.mp4'];
            const dir = runDir(files);
            got[who] = await timed(() => c[who](dir));
            if (who === 'vidax') times.extras.push((await timed(() => c.extras(dir))).wall);
            rmSync(dir, { recursive: true, force: true });
          }
          const [v, b] = [got.vidax!, got.bare!];
          times.vidax.push(v.wall);
          times.bare.push(b.wall);
          ratios.push(v.wall / b.wall);
          cpuRatios.push(v.cpu / b.cpu);
          opts.log(`  ${c.name}, round ${i + 1}: VIDAX ${Math.round(v.wall)} ms (cpu ${Math.round(v.cpu)}), bare ${Math.round(b.wall)} ms (cpu ${Math.round(b.cpu)}): ${r3(v.wall / b.wall)}× wall, ${r3(v.cpu / b.cpu)}× cpu, load ${loadavg()[0]?.toFixed(1)}`);
        }
        const ratio = median(ratios);
        rows.push({
          target: c.name,
          'VIDAX ms (median)': Math.round(median(times.vidax)),
          'bare ms (median)': Math.round(median(times.bare)),
          '× bare (median of pairs)': r3(ratio),
          '× bare, best of each': r3(Math.min(...times.vidax) / Math.min(...times.bare)),
          'CPU × bare (median)': r3(median(cpuRatios)),
          'steps around ffmpeg ms (median)': Math.round(median(times.extras)),
          'their share of bare': `${(100 * median(times.extras) / median(times.bare)).toFixed(1)} %`,
          'wall ratio per round': ratios.map(r3).join(', '),
        });
        checks.push(check(`${c.name}: wall`, ratio, '× bare', '≤ 1.05×', ratio <= 1.05));
        checks.push(check(`${c.name}: CPU (this process + children)`, median(cpuRatios), '× bare', '≤ 1.05×', median(cpuRatios) <= 1.05));
      }
      return {
        title: 'Media phases vs bare ffmpeg',
        settings: { rounds, seconds, size: '1280x720', fps: FPS, load_1m_at_end: r3(loadavg()[0] ?? 0), progress_callbacks: progressCalls },
        rows,
        checks,
        notes: [
          'VIDAX = the phase function the runner calls (encodeFinal / stabilize) in this process: staging by hard links, the input length and tracks (an MP4 or MOV moov header read in-process, else ffprobe), ffmpeg with `-progress pipe:1` parsed, ffprobe of the output, sha256, fsync, rename; default options (libx264 medium CRF 20; stabilize shakiness 5, smoothing 10)',
          'CPU = utime+stime of this process and its waited-for children (/proc/self/stat) over the trial: what VIDAX adds in work, much less swayed by the other tenants of the machine than wall time',
          'steps around ffmpeg = the header read, ffprobe runs and sha256 VIDAX does beside ffmpeg, timed again (one after the other) on its finished run dir: a load-independent view of its overhead (the wall-time ratios swing with the shared machine\'s load)',
          'bare = the same ffmpeg argv (encodeArgs / stabilizeFilters + INTERMEDIATE) via execa on the same files, without -progress; pairs interleaved, order alternating per round; ratio = median of the per-round ratios',
        ],
      };
    } finally {
      ws.cleanup();
    }
  },
};
