import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { stream } from '../lib/http/respond.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { ManifestSchema } from '../lib/api/schemas.ts';

export interface GetManifestContext extends FunctionContext {
  readonly runs: Pick<RunStore, 'openFile'>;
}

/** GET /jobs/:id/manifest: manifest.json itself, streamed from disk. */
export default defineFunction<GetManifestContext>({
  method: 'GET',
  path: '/jobs/:id/manifest',
  summary: "The run's manifest.json, streamed from disk",
  tags: ['jobs'],
  params: { id: { description: 'the run id, as POST /jobs answered it' } },
  responses: { 200: { description: 'manifest.json', schema: ManifestSchema } },
  errors: ['run_not_found', 'manifest_not_found'],
  handler: async ({ ctx, params }) => {
    const file = await ctx.runs.openFile(params.id ?? '', 'manifest');
    return stream(file.body, 'application/json; charset=utf-8', { 'content-length': String(file.size) });
  },
});
