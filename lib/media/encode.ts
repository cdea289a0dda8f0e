import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempPathFor } from '../files/atomic-file.ts';
import { type MediaEnv, requireTools } from './env.ts';
import { MediaFailure, runFfmpeg } from './ffmpeg.ts';
import { readMp4Head } from './mp4-head.ts';
import { type FinalMedia, keepVerified, probeMedia } from './probe.ts';
import type { Current } from './source.ts';
import { stageInput, unstage } from './stage.ts';

export interface EncodeOptions {
  crf?: number | undefined;
  preset?: string | undefined;
  width?: number | undefined;
  height?: number | undefined;
  /** Name of a run input (`<run>/inputs/<name>`) whose audio replaces the video's. */
  audio?: string | undefined;
}

const INPUT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NVENC_PRESET: Record<string, string> = {
  ultrafast: 'p1', superfast: 'p1', veryfast: 'p2', faster: 'p3', fast: 'p3', medium: 'p4', slow: 'p5', slower: 'p6', veryslow: 'p7',
};
/** Even dimensions (yuv420p needs them), at least 2 pixels. */
const EVEN = "scale=w='max(2,trunc(iw/2)*2)':h='max(2,trunc(ih/2)*2)'";

function scaleFilter(o: EncodeOptions): string {
  if (o.width && o.height) return `scale=${o.width}:${o.height}`;
  if (o.width) return `scale=${o.width}:-2`;
  if (o.height) return `scale=-2:${o.height}`;
  return EVEN;
}

/** The ffmpeg arguments of encode after the inputs (exported for the benchmark's bare run). */
export function encodeArgs(o: EncodeOptions & { encoder: string; withAudio: 'input' | 'source' | 'none'; durationS: number | null; out: string }): string[] {
  const crf = o.crf ?? 20;
  const preset = o.preset ?? 'medium';
  const video =
    o.encoder === 'h264_nvenc'
      ? ['-c:v', 'h264_nvenc', '-preset', NVENC_PRESET[preset] ?? 'p4', '-rc', 'vbr', '-cq', String(crf), '-b:v', '0']
      : ['-c:v', 'libx264', '-preset', preset, '-crf', String(crf)];
  const map = o.withAudio === 'input' ? ['-map', '0:v:0', '-map', '1:a:0'] : o.withAudio === 'source' ? ['-map', '0:v:0', '-map', '0:a:0'] : ['-map', '0:v:0'];
  // The video decides the length: longer audio is cut at its end, shorter audio padded with silence.
  const audio = o.withAudio === 'none' ? ['-an'] : ['-c:a', 'aac', '-b:a', '192k', '-af', 'apad'];
  return [
    ...map,
    '-vf', `${scaleFilter(o)},format=yuv420p`,
    ...video,
    '-pix_fmt', 'yuv420p',
    ...audio,
    ...(o.durationS ? ['-t', String(o.durationS)] : []),
    '-movflags', '+faststart',
    '-f', 'mp4',
    o.out,
  ];
}

/**
 * Writes `<workdir>/final.mp4` from the current video: H.264 yuv420p +faststart, AAC audio from
 * the named input or the video itself. Written to a temp name, verified by ffprobe, then
 * renamed. `seen` names the outputs for ENCODE_NO_MEDIA.
 */
export async function encodeFinal(env: MediaEnv, current: Current | null, o: EncodeOptions, seen: readonly string[]): Promise<{ media: FinalMedia; source: string }> {
  if (!current) {
    throw new MediaFailure(
      'ENCODE_NO_MEDIA',
      seen.length === 0
        ? 'there is no visual output to encode: the workflow produced no files (set phases.encode.enabled:false for a job that wants no video)'
        : `there is no visual output to encode among the outputs: ${seen.slice(0, 20).join(', ')}${seen.length > 20 ? ', …' : ''}`,
      { outputs: seen },
    );
  }
  const bins = requireTools(env, 'encode', { encoder: true });
  const { workdir, signal } = env;
  const staged = await stageInput(workdir, 'encode', current);
  const tmp = tempPathFor('final.mp4');
  try {
    let durationS = staged.totalS;
    let sourceAudio = false;
    if (current.kind === 'video') {
      // An MP4/MOV's header says it without a process; anything else (or any doubt) is ffprobe's.
      const head = await readMp4Head(join(workdir, staged.path));
      if (head) {
        durationS = head.duration_s;
        sourceAudio = head.audio;
      } else {
        const info = await probeMedia(bins.ffprobe, workdir, staged.path, { signal, setpriv: bins.setpriv, failCode: 'ENCODE_FAILED' });
        if (!info.video_codec) throw new MediaFailure('ENCODE_FAILED', `${current.path} has no video stream`);
        durationS = info.duration_s;
        sourceAudio = info.audio_codec !== null;
      }
    }
    const inputs = [...staged.args];
    let withAudio: 'input' | 'source' | 'none' = sourceAudio ? 'source' : 'none';
    if (o.audio !== undefined) {
      const rel = join('inputs', o.audio);
      if (!INPUT_NAME.test(o.audio) || !(await access(join(workdir, rel)).then(() => true, () => false))) {
        throw new MediaFailure('MEDIA_INPUT_MISSING', `phases.encode.audio names input "${o.audio.slice(0, 128)}", which this run does not have`);
      }
      const info = await probeMedia(bins.ffprobe, workdir, rel, { signal, setpriv: bins.setpriv, failCode: 'ENCODE_FAILED' });
      if (!info.audio_codec) throw new MediaFailure('ENCODE_FAILED', `input "${o.audio}" has no audio stream`);
      inputs.push('-i', rel);
      withAudio = 'input';
    }
    await runFfmpeg({
      bin: bins.ffmpeg,
      setpriv: bins.setpriv,
      args: [...inputs, ...encodeArgs({ ...o, encoder: env.tools.encoder ?? 'libx264', withAudio, durationS, out: tmp })],
      cwd: workdir,
      timeoutMs: env.config.timeoutS * 1000,
      signal,
      totalS: durationS,
      onProgress: env.onProgress,
      failCode: 'ENCODE_FAILED',
      what: 'encoding final.mp4',
    });
    const media = await keepVerified(bins.ffprobe, workdir, tmp, 'final.mp4', {
      signal,
      setpriv: bins.setpriv,
      failCode: 'ENCODE_FAILED',
      check: (i) => (i.video_codec === 'h264' && i.frames ? null : `ffprobe does not see an H.264 video in the encoded file (${i.video_codec ?? 'no video'}, ${i.frames ?? 0} frames)`),
    });
    return { media, source: current.kind === 'video' ? current.path : `${current.paths.length} frames` };
  } finally {
    await rm(join(workdir, tmp), { force: true });
    await unstage(workdir, 'encode');
  }
}
