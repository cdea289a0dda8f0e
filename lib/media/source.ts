import { open } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** The media a phase works on: one video file, or image files in order played at `fps`. */
export type Current = { kind: 'video'; path: string } | { kind: 'frames'; paths: string[]; fps: number };

export const VIDEO_EXTS = new Set(['.mp4', '.webm', '.mov', '.mkv', '.gif']);
const IMAGE_EXTS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff']);

/** An animated PNG has an `acTL` chunk before its image data; an animated WebP an `ANIM` chunk. */
async function isAnimated(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const buf = Buffer.alloc(1 << 20);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    if (head.subarray(1, 4).toString('latin1') === 'PNG') {
      const actl = head.indexOf('acTL', 8, 'latin1');
      const idat = head.indexOf('IDAT', 8, 'latin1');
      return actl !== -1 && (idat === -1 || actl < idat);
    }
    if (head.subarray(8, 12).toString('latin1') === 'WEBP') return head.indexOf('ANIM', 12, 'latin1') !== -1;
    return false;
  } finally {
    await fh.close();
  }
}

/**
 * The current video after the comfyui phase: its first video artifact (`.mp4 .webm .mov .mkv
 * .gif`, animated `.png`/`.webp`), else its images in order as frames at `fps`, else null.
 */
export async function pickCurrent(workdir: string, artifacts: readonly { path: string }[], fps: number): Promise<Current | null> {
  const images: string[] = [];
  for (const { path } of artifacts) {
    const ext = extname(path).toLowerCase();
    if (VIDEO_EXTS.has(ext)) return { kind: 'video', path };
    if (!IMAGE_EXTS.has(ext)) continue;
    if ((ext === '.png' || ext === '.webp') && (await isAnimated(join(workdir, path)))) return { kind: 'video', path };
    images.push(path);
  }
  return images.length > 0 ? { kind: 'frames', paths: images, fps } : null;
}
