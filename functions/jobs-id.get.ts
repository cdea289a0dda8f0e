import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { runSummary } from '../lib/runs/summary.ts';
import { RunSummarySchema } from '../lib/api/schemas.ts';

export interface GetJobContext extends FunctionContext {
  readonly runs: Pick<RunStore, 'get' | 'paths'>;
}

/** GET /jobs/:id: the run's status and phases (from the cached manifest; disk on a miss). */
export default defineFunction<GetJobContext>({
  method: 'GET',
  path: '/jobs/:id',
  summary: "A run's status and phases",
  tags: ['jobs'],
  params: { id: { description: 'the run id, as POST /jobs answered it' } },
  responses: { 200: { description: 'the run', schema: RunSummarySchema } },
  errors: ['run_not_found', 'manifest_not_found', 'manifest_unreadable'],
  handler: async ({ ctx, params }) => {
    const id = params.id ?? '';
    const m = await ctx.runs.get(id);
    return json(runSummary(m, ctx.runs.paths(id).manifest));
  },
});
