import { createHash } from 'node:crypto';
import { copyFile, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { syncAndRename, tempPathFor, writeFileAtomic } from '../files/atomic-file.ts';

/**
 * A placeholder `final.mp4`: a bare `ftyp` box, so tools see an (empty) MP4 and not garbage.
 * Stage 1 does not encode frames; the phase says `placeholder: true`.
 */
const PLACEHOLDER = Buffer.from([
  0x00, 0x00, 0x00, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0x00, 0x00, 0x02, 0x00,
  0x69, 0x73, 0x6f, 0x6d, 0x6d, 0x70, 0x34, 0x31,
]);
const PLACEHOLDER_SHA256 = createHash('sha256').update(PLACEHOLDER).digest('hex');

export interface EncodeResult {
  bytes: number;
  sha256: string;
  placeholder: boolean;
  /** The ComfyUI output copied, relative to the workdir, when there was one. */
  source: string | null;
}

/**
 * Writes `<workdir>/final.mp4` atomically: a copy of the first `.mp4` ComfyUI produced
 * (already hashed when it was downloaded), or the placeholder.
 */
export async function writeFinal(
  workdir: string,
  mp4: { path: string; bytes: number; sha256: string } | undefined,
): Promise<EncodeResult> {
  const dest = join(workdir, 'final.mp4');
  if (!mp4) {
    await writeFileAtomic(dest, PLACEHOLDER);
    return { bytes: PLACEHOLDER.length, sha256: PLACEHOLDER_SHA256, placeholder: true, source: null };
  }
  const tmp = tempPathFor(dest);
  try {
    await copyFile(join(workdir, mp4.path), tmp);
    await syncAndRename(tmp, dest);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  return { bytes: mp4.bytes, sha256: mp4.sha256, placeholder: false, source: mp4.path };
}

export const isMp4 = (path: string) => basename(path).toLowerCase().endsWith('.mp4');
