// GET /view and POST /upload/image with ComfyUI's path rules.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { basename, extname, isAbsolute, join, normalize, relative, resolve } from 'node:path';
import type { SimOptions } from './args.ts';

const TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif',
  '.mp4': 'video/mp4', '.webm': 'video/webm', '.wav': 'audio/x-wav', '.mp3': 'audio/mpeg', '.flac': 'audio/flac',
  '.json': 'application/json', '.txt': 'text/plain', '.svg': 'image/svg+xml', '.html': 'text/html',
};

export function dirByType(opts: SimOptions, type: string | null): string | null {
  if (type === 'output') return opts.outputDir;
  if (type === 'input') return opts.inputDir;
  if (type === 'temp') return opts.tempDir;
  return null;
}

const inside = (dir: string, p: string) => {
  const rel = relative(dir, p);
  return !rel.startsWith('..') && !isAbsolute(rel);
};

function empty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' }).end();
}

export async function view(opts: SimOptions, q: URLSearchParams, res: ServerResponse): Promise<void> {
  let filename = q.get('filename');
  if (filename === null) return empty(res, 404);
  let dir: string | null = null;
  const annotated = /^(.*) \[(output|input|temp)\]$/.exec(filename);
  if (annotated) {
    filename = annotated[1]!;
    dir = dirByType(opts, annotated[2]!);
  }
  if (!filename || filename.startsWith('/') || filename.includes('..')) return empty(res, 400);
  dir ??= dirByType(opts, q.get('type') ?? 'output');
  if (dir === null) return empty(res, 400);
  const sub = q.get('subfolder');
  if (sub !== null) {
    const full = resolve(dir, sub);
    if (!inside(dir, full)) return empty(res, 403);
    dir = full;
  }
  const name = basename(filename);
  const file = join(dir, name);
  const st = await stat(file).catch(() => null);
  if (!st?.isFile()) return empty(res, 404);
  const type = TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
  const risky = /html|svg|javascript|xml/.test(type);
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': String(st.size),
    'Content-Disposition': `${risky ? 'attachment; ' : ''}filename="${name}"`,
    'Last-Modified': st.mtime.toUTCString(),
  });
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

type Answer = { status: number; json?: unknown };

/** Multipart upload: same name + same bytes = nothing written; different bytes = "x (1).png". */
export async function upload(opts: SimOptions, form: FormData): Promise<Answer> {
  const image = form.get('image');
  const typeField = form.get('type');
  const type = typeof typeField === 'string' && typeField ? typeField : 'input';
  const dir = dirByType(opts, type);
  if (dir === null || !image || typeof image === 'string' || !image.name) return { status: 400 };
  const subfolder = typeof form.get('subfolder') === 'string' ? String(form.get('subfolder')) : '';
  const folder = join(dir, normalize(subfolder || '.'));
  let filename = image.name;
  let path = resolve(folder, filename);
  if (!inside(dir, path)) return { status: 400 };
  const bytes = Buffer.from(await image.arrayBuffer());
  await mkdir(folder, { recursive: true });
  const overwrite = form.get('overwrite');
  let duplicate = false;
  if (overwrite !== 'true' && overwrite !== '1') {
    const ext = extname(filename);
    const stem = filename.slice(0, filename.length - ext.length);
    const hash = createHash('sha256').update(bytes).digest('hex');
    for (let i = 1; ; i++) {
      const existing = await readFile(path).catch(() => null);
      if (!existing) break;
      if (createHash('sha256').update(existing).digest('hex') === hash) {
        duplicate = true;
        break;
      }
      filename = `${stem} (${i})${ext}`;
      path = join(folder, filename);
    }
  }
  if (!duplicate) {
    const tmp = join(folder, `.${filename}.${process.pid}.upload`);
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }
  return { status: 200, json: { name: filename, subfolder, type } };
}
