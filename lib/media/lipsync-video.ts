import { link, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { syncAndRename, tempPathFor } from '../files/atomic-file.ts';
import type { MediaEnv } from './env.ts';
import { runFfmpeg } from './ffmpeg.ts';

/** Containers that can carry sound, and ffmpeg's muxer for each (the temp name has no extension to go by). */
const MUXERS: Record<string, string> = { '.mp4': 'mp4', '.m4v': 'mp4', '.mov': 'mov', '.mkv': 'matroska', '.webm': 'webm' };
const SAFE_EXT = /^\.[a-z0-9]{1,5}$/;

/**
 * The current video as the clip a lip-sync workflow gets: `<dir>/lipsync-video<ext>` (relative
 * to the run dir), without its sound. The workflow replaces the audio anyway, and a ComfyUI whose
 * PyAV cannot open a video with an audio track (Debian 12's PyAV 10: `av.AudioStream` missing in
 * LoadVideo/GetVideoComponents) would fail on it. The first video stream is copied as is
 * (`-map 0:v:0 -an -c:v copy`: no re-encode), from a link under a name VIDAX chose, to a temp
 * name that is fsync'd and renamed. A container that carries no sound (GIF, animated PNG/WebP)
 * is linked as it is; so is any video when there is no ffmpeg (a ComfyUI that reads sound
 * still works).
 */
export async function lipsyncVideo(env: MediaEnv, current: string, dir: string): Promise<string> {
  const { workdir } = env;
  const raw = extname(current).toLowerCase();
  const ext = SAFE_EXT.test(raw) ? raw : '.mp4';
  const dest = join(dir, `lipsync-video${ext}`);
  const muxer = MUXERS[ext];
  if (!muxer || !env.tools.ffmpeg) {
    await link(join(workdir, current), join(workdir, dest));
    return dest;
  }
  const source = join(dir, `lipsync-source${ext}`);
  const tmp = tempPathFor(dest);
  await link(join(workdir, current), join(workdir, source));
  try {
    await runFfmpeg({
      bin: env.tools.ffmpeg.path,
      setpriv: env.tools.setpriv,
      args: ['-i', source, '-map', '0:v:0', '-an', '-sn', '-dn', '-c:v', 'copy', '-f', muxer, tmp],
      cwd: workdir,
      timeoutMs: env.config.timeoutS * 1000,
      signal: env.signal,
      failCode: 'LIPSYNC_FAILED',
      what: 'making a video-only copy of the clip for lipsync',
    });
    await syncAndRename(join(workdir, tmp), join(workdir, dest));
    return dest;
  } finally {
    await rm(join(workdir, tmp), { force: true });
    await rm(join(workdir, source), { force: true });
  }
}
