import type { MediaConfig } from '../config.ts';
import { MediaFailure, type FfmpegProgress } from './ffmpeg.ts';
import type { MediaTools } from './tools.ts';

/** What a media step needs: the run dir, the tools found at start, the run's signal, progress. */
export interface MediaEnv {
  workdir: string;
  tools: MediaTools;
  config: MediaConfig;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: FfmpegProgress) => void) | undefined;
}

/** MEDIA_TOOL_MISSING unless ffmpeg, ffprobe (and the named capability) were found at start. */
export function requireTools(env: MediaEnv, phase: string, needs: { encoder?: boolean } = {}): { ffmpeg: string; ffprobe: string; setpriv: string | null } {
  const t = env.tools;
  if (!t.ffmpeg || !t.ffprobe || (needs.encoder && !t.encoder)) {
    const why = t.problems.length > 0 ? t.problems.join('; ') : 'ffmpeg lacks what this phase needs';
    throw new MediaFailure('MEDIA_TOOL_MISSING', `the ${phase} phase needs ffmpeg: ${why}`, { problems: t.problems });
  }
  return { ffmpeg: t.ffmpeg.path, ffprobe: t.ffprobe.path, setpriv: t.setpriv ?? null };
}
