import type { MediaConfig } from '../../lib/config.ts';
import type { Media } from '../../lib/media/service.ts';
import type { MediaTools } from '../../lib/media/tools.ts';

export const FAKE_MEDIA_CONFIG: MediaConfig = Object.freeze({ ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', encoder: 'libx264', timeoutS: 60 });

/** No ffmpeg at all: what a box without the Debian package reports. */
export const NO_TOOLS: MediaTools = Object.freeze({
  ok: false,
  ffmpeg: null,
  ffprobe: null,
  vidstab: false,
  encoders: [],
  encoder: null,
  problems: ['ffmpeg not found (fake)'],
});

/** A media service with fixed tools (decided at once: no process runs). */
export function fakeMedia(tools: MediaTools = NO_TOOLS, config: MediaConfig = FAKE_MEDIA_CONFIG): Media {
  const done = Promise.resolve(tools);
  return { config, tools: () => done, peek: () => tools };
}
