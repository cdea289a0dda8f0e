import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComfyUIClient } from '../comfyui/client.ts';
import { syncAndRename, tempPathFor } from '../files/atomic-file.ts';
import { OutboundError, type UrlGuard } from '../net/url-guard.ts';
import { cleanContentType, cleanFilename, comfyuiFileName } from './names.ts';
import type { InputEntry } from './types.ts';

/** A prepare step that failed: the run fails `prepare` with this code. */
export class PrepareError extends Error {
  constructor(
    readonly code: 'INPUT_FETCH_FAILED' | 'INPUT_UPLOAD_FAILED',
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'PrepareError';
  }
}

/** Runs of inputs whose content VIDAX must fetch (from job.json: only URL inputs are kept there). */
export function urlInputs(job: { inputs?: Record<string, { url?: string | undefined; filename?: string | undefined }> | undefined }) {
  return Object.entries(job.inputs ?? {}).filter((e): e is [string, { url: string; filename?: string }] => typeof e[1].url === 'string');
}

/**
 * Fetches URL inputs through the outbound guard into `<run>/inputs/<name>` (temp file, fsync,
 * rename). The first failure stops and throws INPUT_FETCH_FAILED naming the input and the reason.
 */
export async function fetchUrlInputs(
  guard: Pick<UrlGuard, 'download'>,
  inputsDir: string,
  wanted: readonly [string, { url: string; filename?: string }][],
  maxBytes: number,
  signal?: AbortSignal,
): Promise<InputEntry[]> {
  await mkdir(inputsDir, { recursive: true });
  const out: InputEntry[] = [];
  for (const [name, spec] of wanted) {
    const dest = join(inputsDir, name);
    const tmp = tempPathFor(dest);
    try {
      const got = await guard.download(spec.url, tmp, { maxBytes, ...(signal ? { signal } : {}) });
      await syncAndRename(tmp, dest);
      const fromUrl = lastSegment(got.url);
      const filename = cleanFilename(spec.filename ?? fromUrl, name);
      out.push({ name, filename, bytes: got.bytes, sha256: got.sha256, content_type: cleanContentType(got.contentType, filename), source: 'url' });
    } catch (err) {
      await rm(tmp, { force: true });
      const reason = err instanceof OutboundError ? err.message : 'the download could not be written';
      throw new PrepareError('INPUT_FETCH_FAILED', `input "${name}": ${reason}`, {
        input: name,
        reason: err instanceof OutboundError ? err.kind : 'io',
      });
    }
  }
  return out;
}

/**
 * Uploads each input a param names to ComfyUI under `vidax/<run_id>/` and returns input name →
 * the value a loader node takes (`<subfolder>/<name ComfyUI returned>`).
 */
export async function uploadInputs(
  comfyui: Pick<ComfyUIClient, 'upload'>,
  runId: string,
  inputsDir: string,
  entries: readonly InputEntry[],
  names: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<Record<string, string>> {
  const uploaded: Record<string, string> = {};
  for (const entry of entries) {
    if (!names.has(entry.name)) continue;
    try {
      const r = await comfyui.upload(join(inputsDir, entry.name), {
        subfolder: `vidax/${runId}`,
        filename: comfyuiFileName(entry.name, entry.filename),
        overwrite: true,
        timeoutMs: 600_000,
        ...(signal ? { signal } : {}),
      });
      uploaded[entry.name] = r.subfolder ? `${r.subfolder}/${r.name}` : r.name;
    } catch (err) {
      throw new PrepareError('INPUT_UPLOAD_FAILED', `input "${entry.name}": ${(err as Error).message}`, { input: entry.name });
    }
  }
  return uploaded;
}

function lastSegment(url: string): string {
  const raw = new URL(url).pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
