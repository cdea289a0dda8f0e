import { open } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** The media a phase works on: one video file, or image files in order played at `fps`. */
export type Current = { kind: 'video'; path: string } | { kind: 'frames'; paths: string[]; fps: number };

export const VIDEO_EXTS = new Set(['.mp4', '.webm', '.mov', '.mkv', '.gif']);
const IMAGE_EXTS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff']);

/**
 * An animated PNG has an `acTL` chunk before its image data (found by walking the chunk headers:
 * ComfyUI's PNGs carry the workflow as text chunks of any size before it); an animated WebP an
 * `ANIM` chunk (right after `VP8X`, at the start).
 */
async function isAnimated(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    if (head.subarray(1, 4).toString('latin1') === 'PNG') {
      for (let off = 8, i = 0; i < 256; i += 1) {
        const { bytesRead: n } = await fh.read(buf, 0, 8, off);
        if (n < 8) return false;
        const type = buf.toString('latin1', 4, 8);
        if (type === 'acTL') return true;
        if (type === 'IDAT' || type === 'IEND') return false;
        off += 12 + buf.readUInt32BE(0);
      }
      return false;
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
