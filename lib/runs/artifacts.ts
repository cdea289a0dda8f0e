import { resolve, sep } from 'node:path';
import { artifactNotFound } from '../errors.ts';
import { serveFile } from '../files/serve-file.ts';
import { typeByName } from '../inputs/names.ts';
import type { Manifest } from './manifest.ts';
import type { RunStore } from './store.ts';

/** One downloadable file of a run, as `GET /jobs/:id/artifacts` lists it. */
export interface ArtifactView {
  /** Relative to the run directory: `outputs/…`, `final.mp4`, `inputs/<name>`. */
  path: string;
  bytes: number;
  sha256: string;
  /** The phase that wrote it; `input` for the job's inputs. */
  phase: string;
  content_type: string;
  /** Root-relative download URL. */
  url: string;
}

export const artifactUrl = (runId: string, path: string) =>
  `/jobs/${runId}/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`;

/** Every file the manifest lists: its artifacts, then its inputs. Nothing else is ever served. */
export function listArtifacts(m: Manifest): ArtifactView[] {
  const out: ArtifactView[] = m.artifacts.map((a) => ({
    path: a.path,
    bytes: a.bytes,
    sha256: a.sha256,
    phase: a.phase,
    content_type: typeByName(a.path),
    url: artifactUrl(m.run_id, a.path),
  }));
  for (const i of m.inputs ?? []) {
    const path = `inputs/${i.name}`;
    out.push({ path, bytes: i.bytes, sha256: i.sha256, phase: 'input', content_type: i.content_type, url: artifactUrl(m.run_id, path) });
  }
  return out;
}

/**
 * The manifest entry a URL path names, or null. The path arrives percent-encoded: each segment
 * is decoded alone, and an encoded separator, NUL, empty or dot segment is a miss, so the result
 * can only equal a path VIDAX itself wrote into the manifest.
 */
export function findArtifact(m: Manifest, rawPath: string): ArtifactView | null {
  const segments: string[] = [];
  for (const raw of rawPath.split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (seg === '' || seg === '.' || seg === '..' || /[/\\\0]/.test(seg)) return null;
    segments.push(seg);
  }
  const path = segments.join('/');
  return listArtifacts(m).find((a) => a.path === path) ?? null;
}

/** GET/HEAD of one listed file of run `id`; every miss (unlisted, gone, symlinked) is 404 artifact_not_found. */
export async function artifactResponse(
  request: Request,
  runs: Pick<RunStore, 'get' | 'paths'>,
  id: string,
  rawPath: string,
  only?: (m: Manifest) => boolean,
): Promise<Response> {
  const m = await runs.get(id);
  const found = only && !only(m) ? null : findArtifact(m, rawPath);
  if (!found) throw artifactNotFound(id);
  const workdir = runs.paths(id).workdir; // from the id, never from the manifest's contents
  const path = resolve(workdir, found.path);
  if (!path.startsWith(`${workdir}${sep}`)) throw artifactNotFound(id);
  const response = await serveFile(request, { path, contentType: found.content_type, sha256: found.sha256 });
  if (!response) throw artifactNotFound(id);
  return response;
}
