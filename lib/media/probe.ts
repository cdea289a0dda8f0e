import { rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { syncFile } from '../files/atomic-file.ts';
import { MediaAborted, MediaFailure } from './ffmpeg.ts';
import { hashFile } from './hash.ts';
import { dieWithParent } from './leftovers.ts';

/** What ffprobe says about a media file (the manifest's `media` minus bytes/sha256). */
export interface MediaInfo {
  duration_s: number | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  frames: number | null;
  video_codec: string | null;
  audio_codec: string | null;
  pix_fmt: string | null;
  audio_duration_s: number | null;
  format: string | null;
}

/** The manifest's `media` of a finished file: ffprobe's view plus its size and sha256. */
export type FinalMedia = Omit<MediaInfo, 'audio_duration_s' | 'format'> & { bytes: number; sha256: string };

interface Stream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  duration?: string;
}

const rate = (r: string | undefined): number | null => {
  const [a, b] = (r ?? '').split('/').map(Number);
  if (!a || !b || !Number.isFinite(a / b)) return null;
  return Math.round((a / b) * 1000) / 1000;
};
const float = (s: string | undefined) => (s === undefined || !Number.isFinite(Number(s)) ? null : Math.round(Number(s) * 1000) / 1000);
const int = (s: string | undefined) => (s === undefined || !/^\d+$/.test(s) ? null : Number(s));

/**
 * ffprobe of a file VIDAX chose (`rel` inside `cwd`): streams and format as JSON, packets
 * counted (a demux, no decode). An empty, truncated or non-media file is `failCode`.
 */
export async function probeMedia(
  bin: string,
  cwd: string,
  rel: string,
  opts: { signal?: AbortSignal | undefined; timeoutMs?: number; failCode: string; setpriv?: string | null },
): Promise<MediaInfo> {
  const size = await stat(join(cwd, rel)).then((s) => s.size, () => -1);
  if (size <= 0) throw new MediaFailure(opts.failCode, `${rel} is ${size < 0 ? 'missing' : 'empty'}`);
  const [file, args] = dieWithParent(opts.setpriv, bin, ['-hide_banner', '-v', 'error', '-count_packets', '-print_format', 'json', '-show_format', '-show_streams', rel]);
  const r = await execa(file, args, {
    cwd,
    stdin: 'ignore',
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
    forceKillAfterDelay: 2000,
    maxBuffer: 16 * 1024 * 1024,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  if (r.isCanceled || opts.signal?.aborted) throw new MediaAborted(opts.signal?.reason);
  let parsed: { streams?: Stream[]; format?: { duration?: string; format_name?: string } } = {};
  try {
    parsed = JSON.parse(String(r.stdout || '{}'));
  } catch {}
  const video = parsed.streams?.find((s) => s.codec_type === 'video');
  if (r.exitCode !== 0 || !parsed.streams) {
    const why = String(r.stderr ?? '').trim().split('\n').slice(-2).join(' | ') || (r.timedOut ? 'ffprobe timed out' : 'ffprobe failed');
    throw new MediaFailure(opts.failCode, `${rel} is not readable media: ${why}`, { last_lines: String(r.stderr ?? '').trim().split('\n').slice(-12) });
  }
  const audio = parsed.streams.find((s) => s.codec_type === 'audio');
  return {
    duration_s: float(parsed.format?.duration) ?? float(video?.duration),
    width: video?.width ?? null,
    height: video?.height ?? null,
    fps: rate(video?.avg_frame_rate) ?? rate(video?.r_frame_rate),
    frames: int(video?.nb_frames) ?? int(video?.nb_read_packets),
    video_codec: video?.codec_name ?? null,
    audio_codec: audio?.codec_name ?? null,
    pix_fmt: video?.pix_fmt ?? null,
    audio_duration_s: float(audio?.duration),
    format: parsed.format?.format_name ?? null,
  };
}

/**
 * The end of every media step: ffprobe of the temp output `tmp`, its size and sha256 and its
 * fsync (together), `check` (a reason to refuse it, or null), then the rename to `dest` (both inside `cwd`).
 */
export async function keepVerified(
  bin: string,
  cwd: string,
  tmp: string,
  dest: string,
  opts: { signal?: AbortSignal | undefined; failCode: string; setpriv?: string | null; check(info: MediaInfo): string | null },
): Promise<FinalMedia> {
  // ffprobe, the hash and the fsync read the same finished file: at once, then the rename.
  const [info, { bytes, sha256 }] = await Promise.all([probeMedia(bin, cwd, tmp, opts), hashFile(join(cwd, tmp)), syncFile(join(cwd, tmp))]);
  const refused = opts.check(info);
  if (refused) throw new MediaFailure(opts.failCode, refused);
  await rename(join(cwd, tmp), join(cwd, dest));
  const { audio_duration_s: _a, format: _f, ...media } = info;
  return { ...media, bytes, sha256 };
}
