import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import { listArtifacts } from '../lib/runs/artifacts.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { ArtifactListSchema } from '../lib/api/schemas.ts';

export interface ListArtifactsContext extends FunctionContext {
  readonly runs: Pick<RunStore, 'get'>;
}

/** GET /jobs/:id/artifacts: every file of the run the manifest lists (outputs, final.mp4, inputs) with its URL. */
export default defineFunction<ListArtifactsContext>({
  method: 'GET',
  path: '/jobs/:id/artifacts',
  summary: 'Every file of the run the manifest lists (outputs, final.mp4, inputs), with its download URL',
  tags: ['artifacts'],
  params: { id: { description: 'the run id, as POST /jobs answered it' } },
  responses: { 200: { description: 'the files', schema: ArtifactListSchema } },
  errors: ['run_not_found', 'manifest_not_found'],
  handler: async ({ ctx, params }) => json({ artifacts: listArtifacts(await ctx.runs.get(params.id ?? '')) }),
});
