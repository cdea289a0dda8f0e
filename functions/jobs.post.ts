import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { JOB_SCHEMA } from '../lib/jobs/schema.ts';
import { json } from '../lib/http/respond.ts';
import type { RunStore } from '../lib/runs/store.ts';

export interface CreateJobContext extends FunctionContext {
  readonly runs: Pick<RunStore, 'create'>;
}

/**
 * POST /jobs: validates the job (400 `validation_failed` listing every issue, nothing written),
 * creates its run directory durably and answers 202 with where the run lives.
 */
export default defineFunction<CreateJobContext, typeof JOB_SCHEMA>({
  method: 'POST',
  path: '/jobs',
  body: JOB_SCHEMA,
  handler: async ({ ctx, body }) => {
    const run = await ctx.runs.create(body);
    return json(
      { run_id: run.run_id, status: 'queued', manifest: run.manifestPath, workdir: run.workdir },
      202,
      { location: `/jobs/${run.run_id}` },
    );
  },
});
