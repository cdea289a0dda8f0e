import { type Definition, defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { artifactResponse } from '../lib/runs/artifacts.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { BinarySchema, FILE_HEADERS } from '../lib/api/schemas.ts';

export interface ArtifactContext extends FunctionContext {
  readonly runs: Pick<RunStore, 'get' | 'paths'>;
}

/**
 * GET /jobs/:id/artifacts/<path>: one file the manifest lists (e.g. `outputs/a_00001_.png`,
 * `final.mp4`, `inputs/face`), with ETag, Range (206/416) and If-None-Match (304).
 */
/** The GET answer's definition; HEAD (the `.head.ts` twin) reuses it with its own summary. */
export const download: Definition<ArtifactContext> = {
  method: 'GET',
  path: '/jobs/:id/artifacts/:path+',
  summary: 'Download one file of the run the manifest lists',
  tags: ['artifacts'],
  params: {
    id: { description: 'the run id, as POST /jobs answered it' },
    path: { description: 'a path the manifest lists, percent-encoded per segment as in the listed `url` (e.g. outputs/a_00001_.png, final.mp4, inputs/face)' },
  },
  headers: {
    range: { description: 'one range, bytes=a-b, bytes=a- or bytes=-n' },
    'if-range': { description: 'the ETag the Range applies to' },
    'if-none-match': { description: 'ETags the client has: 304 when one matches' },
  },
  responses: {
    200: { description: 'the file', schema: BinarySchema, contentType: '*/*', headers: FILE_HEADERS },
    206: { description: 'the requested range', schema: BinarySchema, contentType: '*/*', headers: { ...FILE_HEADERS, 'Content-Range': 'bytes a-b/size' } },
    304: { description: 'not modified (If-None-Match matched)', schema: BinarySchema, contentType: '*/*' },
  },
  errors: ['run_not_found', 'artifact_not_found', 'range_not_satisfiable'],
  handler: ({ request, ctx, params }) => artifactResponse(request, ctx.runs, params.id ?? '', params.path ?? ''),
};

export default defineFunction<ArtifactContext>(download);
