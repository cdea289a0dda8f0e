import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import type { RunStore } from '../lib/runs/store.ts';

export interface GetJobContext extends FunctionContext {
  readonly runs: Pick<RunStore, 'get' | 'paths'>;
}

/** GET /jobs/:id: the run's status and phases (from the cached manifest; disk on a miss). */
export default defineFunction<GetJobContext>({
  method: 'GET',
  path: '/jobs/:id',
  handler: async ({ ctx, params }) => {
    const id = params.id ?? '';
    const m = await ctx.runs.get(id);
    return json({
      run_id: m.run_id,
      run_status: m.run_status,
      exit_status: m.exit_status,
      phases: m.phases,
      manifest: ctx.runs.paths(id).manifest,
      workdir: m.workdir,
      created_at: m.created_at,
      updated_at: m.updated_at,
      error: m.error,
    });
  },
});
