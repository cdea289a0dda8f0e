// Real media for the simulator: SaveVideo encodes its frames with ffmpeg (H.264 + AAC in MP4),
// LoadVideo decodes a file into frames. ffmpeg runs as a child (argv only, no shell); the
// simulator holds frames in memory, so it is meant for the small clips of tests and demos.
import { spawn } from 'node:child_process';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Frame } from './png.ts';

/** AUDIO: a file whose first audio stream is the sound (a loaded audio file or a video). */
export interface AudioRef {
  file?: string;
}

const ffmpegBin = () => process.env.SIM_FFMPEG || 'ffmpeg';
const ffprobeBin = () => process.env.SIM_FFPROBE || 'ffprobe';

function run(bin: string, args: string[], stdin?: Buffer[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    const sink = child.stdin;
    if (stdin && sink) {
      sink.on('error', () => {}); // ffmpeg may exit before reading everything; its exit code says why
      (async () => {
        for (const chunk of stdin) {
          if (sink.destroyed) break;
          if (!sink.write(chunk)) await new Promise((r) => { sink.once('drain', r); sink.once('close', r); });
        }
        sink.end();
      })();
    }
  });
}

const lastLine = (s: string) => s.trim().split('\n').slice(-2).join(' | ');

/** Encodes frames (and the audio of `audio`, cut or padded to the frames) into an MP4 at `out`. */
export async function encodeMp4(frames: Frame[], fps: number, audio: AudioRef | null, out: string): Promise<void> {
  const first = frames[0];
  if (!first) throw new Error('no frames to encode');
  const duration = frames.length / fps;
  const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
  const args = ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${first.width}x${first.height}`, '-r', String(fps), '-i', 'pipe:0'];
  if (audio?.file) args.push('-i', audio.file, '-map', '0:v:0', '-map', '1:a:0', '-c:a', 'aac', '-af', 'apad', '-t', String(duration));
  args.push('-vf', "scale=w='max(2,trunc(iw/2)*2)':h='max(2,trunc(ih/2)*2)'", '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-f', 'mp4', tmp);
  const same = frames.filter((f) => f.width === first.width && f.height === first.height);
  const r = await run(ffmpegBin(), args, same.map((f) => Buffer.from(f.rgb.buffer, f.rgb.byteOffset, f.rgb.byteLength)));
  if (r.code !== 0) {
    await rm(tmp, { force: true });
    throw new Error(`ffmpeg could not encode the video: ${lastLine(r.stderr)}`);
  }
  await rename(tmp, out);
}

/** Decodes a video file into RGB frames; also says whether it has sound. */
export async function decodeVideo(file: string): Promise<{ frames: Frame[]; fps: number; hasAudio: boolean }> {
  const probe = await run(ffprobeBin(), ['-v', 'error', '-print_format', 'json', '-show_streams', file]);
  let streams: { codec_type?: string; width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string }[] = [];
  try {
    streams = JSON.parse(probe.stdout.toString()).streams ?? [];
  } catch {}
  const v = streams.find((s) => s.codec_type === 'video');
  if (probe.code !== 0 || !v?.width || !v.height) throw new Error(`cannot read video ${basename(file)}: ${lastLine(probe.stderr) || 'no video stream'}`);
  const [a, b] = (v.avg_frame_rate && v.avg_frame_rate !== '0/0' ? v.avg_frame_rate : (v.r_frame_rate ?? '24/1')).split('/').map(Number);
  const fps = a && b ? a / b : 24;
  // Every decoded frame once, as ComfyUI's LoadVideo gives them (a constant-rate output would
  // duplicate one where a Matroska file's millisecond timestamps round).
  const r = await run(ffmpegBin(), ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-map', '0:v:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  if (r.code !== 0) throw new Error(`cannot decode video ${basename(file)}: ${lastLine(r.stderr)}`);
  const size = v.width * v.height * 3;
  const frames: Frame[] = [];
  for (let off = 0; off + size <= r.stdout.length; off += size) {
    frames.push({ width: v.width, height: v.height, rgb: new Uint8Array(r.stdout.subarray(off, off + size)) });
  }
  return { frames, fps, hasAudio: streams.some((s) => s.codec_type === 'audio') };
}
