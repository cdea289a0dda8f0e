import { type Definition, defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { artifactResponse } from '../lib/runs/artifacts.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { BinarySchema, FILE_HEADERS } from '../lib/api/schemas.ts';

export interface FinalContext extends FunctionContext {
  readonly runs: Pick<RunStore, 'get' | 'paths'>;
}

/** GET /jobs/:id/final.mp4: the finished video, as the artifact `final.mp4`; 404 until `encode` completed. */
/** The GET answer's definition; HEAD (the `.head.ts` twin) reuses it with its own summary. */
export const download: Definition<FinalContext> = {
  method: 'GET',
  path: '/jobs/:id/final.mp4',
  summary: 'Download the finished video (404 until encode completed)',
  tags: ['artifacts'],
  params: {
    id: { description: 'the run id, as POST /jobs answered it' },
  },
  headers: {
    range: { description: 'one range, bytes=a-b, bytes=a- or bytes=-n' },
    'if-range': { description: 'the ETag the Range applies to' },
    'if-none-match': { description: 'ETags the client has: 304 when one matches' },
  },
  responses: {
    200: { description: 'the file', schema: BinarySchema, contentType: 'video/mp4', headers: FILE_HEADERS },
    206: { description: 'the requested range', schema: BinarySchema, contentType: 'video/mp4', headers: { ...FILE_HEADERS, 'Content-Range': 'bytes a-b/size' } },
    304: { description: 'not modified (If-None-Match matched)', schema: BinarySchema, contentType: 'video/mp4' },
  },
  errors: ['run_not_found', 'artifact_not_found', 'range_not_satisfiable'],
  handler: ({ request, ctx, params }) =>
    artifactResponse(request, ctx.runs, params.id ?? '', 'final.mp4', (m) => m.phases.encode.status === 'completed'),
};

export default defineFunction<FinalContext>(download);
