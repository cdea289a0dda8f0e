import type { MediaConfig } from '../config.ts';
import { detectMediaTools, type MediaTools } from './tools.ts';

/** ffmpeg/ffprobe as found at start: detection begins when the service is built. */
export interface Media {
  readonly config: MediaConfig;
  /** Resolves once detection finished (never rejects). */
  tools(): Promise<MediaTools>;
  /** The detection result once known, else null. */
  peek(): MediaTools | null;
}

export function createMedia(config: MediaConfig, detect = detectMediaTools): Media {
  let known: MediaTools | null = null;
  const pending = detect(config).then((t) => {
    known = t;
    return t;
  });
  return { config, tools: () => pending, peek: () => known };
}
