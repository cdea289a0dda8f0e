import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempPathFor } from '../files/atomic-file.ts';
import { type MediaEnv, requireTools } from './env.ts';
import { runFfmpeg } from './ffmpeg.ts';
import { keepVerified } from './probe.ts';
import type { Current } from './source.ts';
import { stageInput, unstage } from './stage.ts';

export interface StabilizeOptions {
  shakiness?: number | undefined;
  smoothing?: number | undefined;
  zoom?: number | undefined;
}

export const STABILIZED = join('stabilize', 'stabilized.mkv');
const TRANSFORMS = join('stabilize', 'transforms.trf');

/** libvidstab wants planar YUV (it aborts on RGB frames), and x264 even dimensions. */
const PRE = "scale=w='max(2,trunc(iw/2)*2)':h='max(2,trunc(ih/2)*2)',format=yuv420p";

/** The two passes' filter chains (exported for the benchmark's bare run). */
export function stabilizeFilters(o: StabilizeOptions, trf: string): { detect: string; transform: string } {
  return {
    detect: `${PRE},vidstabdetect=shakiness=${o.shakiness ?? 5}:accuracy=15:result=${trf}`,
    transform: `${PRE},vidstabtransform=input=${trf}:smoothing=${o.smoothing ?? 10}:zoom=${o.zoom ?? 0}:optzoom=1:interpol=bicubic,unsharp=5:5:0.8:3:3:0.4`,
  };
}

/** A high-quality intermediate: H.264 CRF 12 in Matroska, audio copied as is. */
export const INTERMEDIATE = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '12', '-c:a', 'copy', '-f', 'matroska'];

/**
 * Two passes over the current video: `vidstabdetect` writes the motion of each frame, then
 * `vidstabtransform` (plus a mild `unsharp`) writes `stabilize/stabilized.mkv` (temp name,
 * verified, renamed). A failure of either pass is STABILIZE_FAILED with ffmpeg's last lines.
 */
export async function stabilize(env: MediaEnv, current: Current, o: StabilizeOptions): Promise<{ path: string; bytes: number; sha256: string; frames: number | null }> {
  const bins = requireTools(env, 'stabilize');
  const { workdir, signal } = env;
  await rm(join(workdir, 'stabilize'), { recursive: true, force: true }); // a re-run starts clean
  await mkdir(join(workdir, 'stabilize'), { recursive: true });
  const staged = await stageInput(workdir, 'stabilize', current);
  const tmp = tempPathFor(STABILIZED);
  try {
    // A video's length (for progress) comes from ffmpeg's own `Duration:` line: no ffprobe before.
    const totalS = staged.totalS;
    const f = stabilizeFilters(o, TRANSFORMS);
    const common = { bin: bins.ffmpeg, setpriv: bins.setpriv, cwd: workdir, timeoutMs: env.config.timeoutS * 1000, signal, failCode: 'STABILIZE_FAILED' };
    // Progress: the detect pass is the first half, the transform pass the second.
    const half = (base: number) => (p: Parameters<NonNullable<MediaEnv['onProgress']>>[0]) =>
      env.onProgress?.({ ...p, ratio: p.ratio === null ? null : Math.round((base + p.ratio / 2) * 1000) / 1000 });
    await runFfmpeg({ ...common, args: [...staged.args, '-map', '0:v:0', '-vf', f.detect, '-f', 'null', '-'], totalS, onProgress: half(0), what: 'stabilize (vidstabdetect pass)' });
    await runFfmpeg({
      ...common,
      args: [...staged.args, '-map', '0:v:0', '-map', '0:a?', '-vf', f.transform, ...INTERMEDIATE, tmp],
      totalS,
      onProgress: half(0.5),
      what: 'stabilize (vidstabtransform pass)',
    });
    const { bytes, sha256, frames } = await keepVerified(bins.ffprobe, workdir, tmp, STABILIZED, {
      signal,
      setpriv: bins.setpriv,
      failCode: 'STABILIZE_FAILED',
      check: (i) => (i.video_codec && i.frames ? null : 'the stabilized file has no video frames'),
    });
    return { path: STABILIZED, bytes, sha256, frames };
  } finally {
    await rm(join(workdir, tmp), { force: true });
    await unstage(workdir, 'stabilize');
  }
}
