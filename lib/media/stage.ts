import { copyFile, link, mkdir, rm, rmdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Current } from './source.ts';

/** ffmpeg input arguments for the current video, every path one VIDAX chose inside the run dir. */
export interface StagedInput {
  args: string[];
  /** The staged file (video) or pattern (frames), relative to the run dir. */
  path: string;
  /** Duration when known without probing (frames / fps). */
  totalS: number | null;
  frames: number | null;
}

const SAFE_EXT = /^\.[a-z0-9]{1,5}$/;

async function place(src: string, dest: string): Promise<void> {
  // A hard link costs nothing; a copy where links are not possible (another file system).
  await link(src, dest).catch(() => copyFile(src, dest));
}

/**
 * Puts the current video under `<phaseDir>/in/` under names VIDAX chose (`source.<ext>`, or
 * `000001.<ext>`… for frames), so no file name ComfyUI or a client picked ever reaches
 * ffmpeg's argv, and returns the input arguments. The folder is emptied first (a re-run
 * after a crash starts clean).
 */
export async function stageInput(workdir: string, phaseDir: string, current: Current): Promise<StagedInput> {
  const dir = join(phaseDir, 'in');
  await rm(join(workdir, dir), { recursive: true, force: true });
  await mkdir(join(workdir, dir), { recursive: true });
  if (current.kind === 'video') {
    const raw = extname(current.path).toLowerCase();
    const rel = join(dir, `source${SAFE_EXT.test(raw) ? raw : '.bin'}`);
    await place(join(workdir, current.path), join(workdir, rel));
    return { args: ['-i', rel], path: rel, totalS: null, frames: null };
  }
  const raw = extname(current.paths[0] ?? '').toLowerCase();
  const ext = SAFE_EXT.test(raw) ? raw : '.png';
  await Promise.all(current.paths.map((p, i) => place(join(workdir, p), join(workdir, dir, `${String(i + 1).padStart(6, '0')}${ext}`))));
  const pattern = join(dir, `%06d${ext}`);
  return {
    args: ['-f', 'image2', '-framerate', String(current.fps), '-start_number', '1', '-i', pattern],
    path: pattern,
    totalS: current.paths.length / current.fps,
    frames: current.paths.length,
  };
}

/** Removes a phase's staged inputs (links into artifacts; not artifacts themselves). */
export async function unstage(workdir: string, phaseDir: string): Promise<void> {
  await rm(join(workdir, phaseDir, 'in'), { recursive: true, force: true });
  await rmdir(join(workdir, phaseDir)).catch(() => {}); // only when nothing else is in it
}
