// Output naming like folder_paths.get_save_image_path: `<prefix>_<5-digit counter>_.<ext>`, counter = highest + 1.
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve } from 'node:path';
import { encodeMp4 } from './media.ts';
import { NodeError, type Video } from './nodes.ts';
import { encodePng, type Frame } from './png.ts';

export interface SavedFile {
  filename: string;
  subfolder: string;
  type: string;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function computeVars(prefix: string, width: number, height: number): string {
  const d = new Date();
  const parts: Record<string, string> = {
    yyyy: String(d.getFullYear()), yy: String(d.getFullYear()).slice(2), MM: pad(d.getMonth() + 1), M: String(d.getMonth() + 1),
    dd: pad(d.getDate()), d: String(d.getDate()), hh: pad(d.getHours()), h: String(d.getHours()), mm: pad(d.getMinutes()),
    m: String(d.getMinutes()), ss: pad(d.getSeconds()), s: String(d.getSeconds()),
  };
  return prefix
    .replace(/%width%/gi, String(width))
    .replace(/%height%/gi, String(height))
    .replace(/%year%/gi, parts.yyyy!).replace(/%month%/gi, parts.MM!).replace(/%day%/gi, parts.dd!)
    .replace(/%hour%/gi, parts.hh!).replace(/%minute%/gi, parts.mm!).replace(/%second%/gi, parts.ss!)
    .replace(/%date:([^%]+)%/g, (_, fmt: string) => fmt.replace(/yyyy|yy|MM|M|dd|d|hh|h|mm|m|ss|s/g, (t) => parts[t] ?? t));
}

/** Resolves the folder, base name and next counter; raises like ComfyUI when the prefix escapes the folder. */
export async function savePath(prefix: string, outputDir: string, width = 0, height = 0) {
  if (prefix.includes('%')) prefix = computeVars(prefix, width, height);
  const norm = normalize(prefix);
  const subfolder = dirname(norm) === '.' ? '' : dirname(norm);
  const filename = basename(norm);
  const folder = resolve(outputDir, subfolder);
  const rel = relative(outputDir, folder);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    let common = outputDir;
    while (relative(common, folder).startsWith('..')) common = dirname(common);
    const err = `**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: ${folder}\n         output_dir: ${outputDir}\n         commonpath: ${common}`;
    throw new NodeError(err, 'Exception', [
      '  File "/opt/ComfyUI/nodes.py", line 1590, in save_images\n    full_output_folder, filename, counter, subfolder, filename_prefix = folder_paths.get_save_image_path(filename_prefix, self.output_dir, images[0].shape[1], images[0].shape[0])\n',
      '  File "/opt/ComfyUI/folder_paths.py", line 397, in get_save_image_path\n    raise Exception(err)\n',
    ]);
  }
  let counter = 1;
  try {
    for (const name of await readdir(folder)) {
      const head = name.slice(0, filename.length + 1);
      if (head.slice(0, -1).toLowerCase() !== filename.toLowerCase() || !head.endsWith('_')) continue;
      const digits = name.slice(filename.length + 1).split('_')[0] ?? '';
      if (/^\d+$/.test(digits)) counter = Math.max(counter, Number(digits) + 1);
    }
  } catch {
    await mkdir(folder, { recursive: true });
  }
  return { folder, filename, counter, subfolder };
}

/** Writes atomically (temp name in the same folder, then rename). */
async function put(path: string, data: Buffer): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export async function saveFrames(
  frames: Frame[],
  prefix: string,
  dir: string,
  type: string,
  hidden: Record<string, unknown>,
  disableMetadata: boolean,
  level = 4,
): Promise<SavedFile[]> {
  const first = frames[0];
  const p = await savePath(prefix, dir, first?.width ?? 0, first?.height ?? 0);
  const text: Record<string, string> = {};
  if (!disableMetadata) {
    if (hidden.prompt !== undefined) text.prompt = JSON.stringify(hidden.prompt);
    if (hidden.extra_pnginfo && typeof hidden.extra_pnginfo === 'object') {
      for (const [k, v] of Object.entries(hidden.extra_pnginfo)) text[k] = JSON.stringify(v);
    }
  }
  const out: SavedFile[] = [];
  let counter = p.counter;
  for (const [i, f] of frames.entries()) {
    const file = `${p.filename.replaceAll('%batch_num%', String(i))}_${String(counter).padStart(5, '0')}_.png`;
    await put(join(p.folder, file), encodePng(f, text, level));
    out.push({ filename: file, subfolder: p.subfolder, type });
    counter++;
  }
  return out;
}

export async function saveVideo(video: Video, prefix: string, outputDir: string): Promise<SavedFile[]> {
  const first = video.frames[0];
  const p = await savePath(prefix, outputDir, first?.width ?? 0, first?.height ?? 0);
  const file = `${p.filename}_${String(p.counter).padStart(5, '0')}_.mp4`;
  try {
    await encodeMp4(video.frames, video.fps, video.audio ?? null, join(p.folder, file));
  } catch (err) {
    throw new NodeError((err as Error).message, 'RuntimeError');
  }
  return [{ filename: file, subfolder: p.subfolder, type: 'output' }];
}
