import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MediaConfig } from '../../lib/config.ts';
import { detectMediaTools, type MediaTools } from '../../lib/media/tools.ts';

export const MEDIA_CONFIG: MediaConfig = Object.freeze({ ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', encoder: 'libx264', timeoutS: 120 });

let tools: Promise<MediaTools> | null = null;
/** The real ffmpeg/ffprobe of this machine, detected once. */
export const realTools = () => (tools ??= detectMediaTools(MEDIA_CONFIG));

/** Runs ffmpeg (tests only) to make a fixture file. */
export function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-y', '-v', 'error', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** ffprobe's view of a file: the first video and audio streams and the format. */
export function probe(path: string) {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-print_format', 'json', '-show_streams', '-show_format', path], { encoding: 'utf8' });
  const j = JSON.parse(out) as { streams: Record<string, string & number>[]; format: Record<string, string> };
  const v = j.streams.find((s) => s.codec_type === 'video');
  const a = j.streams.find((s) => s.codec_type === 'audio');
  return {
    video: v && { codec: v.codec_name, pix_fmt: v.pix_fmt, width: v.width, height: v.height, frames: Number(v.nb_read_frames), fps: v.avg_frame_rate, duration: Number(v.duration) },
    audio: a && { codec: a.codec_name, duration: Number(a.duration), sample_rate: Number(a.sample_rate) },
    duration: Number(j.format.duration),
    format: j.format.format_name,
  };
}

/** A PNG of one colour, or a tone as WAV, at `path`. */
export function makePng(path: string, w: number, h: number, color = 'red'): void {
  mkdirSync(dirname(path), { recursive: true });
  ffmpeg(['-f', 'lavfi', '-i', `color=${color}:s=${w}x${h}`, '-frames:v', '1', path]);
}
export function makeWav(path: string, seconds: number): void {
  mkdirSync(dirname(path), { recursive: true });
  ffmpeg(['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`, path]);
}
export function makeClip(path: string, seconds: number, opts: { size?: string; fps?: number; audio?: boolean } = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  const v = ['-f', 'lavfi', '-i', `testsrc=size=${opts.size ?? '160x120'}:rate=${opts.fps ?? 24}:duration=${seconds}`];
  const a = opts.audio ? ['-f', 'lavfi', '-i', `sine=frequency=300:duration=${seconds}`] : [];
  ffmpeg([...v, ...a, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', ...(opts.audio ? ['-c:a', 'aac'] : []), path]);
}
