import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import type { Runner } from '../lib/runner/runner.ts';
import { StartedJobSchema } from '../lib/api/schemas.ts';

export interface StartJobContext extends FunctionContext {
  readonly runner: Pick<Runner, 'start'>;
}

/**
 * POST /jobs/:id/start: 404 for an unknown run, 409 unless it is queued (of concurrent starts
 * exactly one wins), 500 with the ComfyUI error's code if ComfyUI cannot be made healthy (the
 * run stays queued), else 202 and the run goes on in the background.
 */
export default defineFunction<StartJobContext>({
  method: 'POST',
  path: '/jobs/:id/start',
  summary: 'Start a queued run',
  description: 'Makes ComfyUI healthy, claims the run durably and answers; the run goes on in the background.',
  tags: ['jobs'],
  params: { id: { description: 'the run id, as POST /jobs answered it' } },
  responses: {
    202: { description: 'the run is running', schema: StartedJobSchema, headers: { Location: 'the run: /jobs/{run_id}' } },
  },
  errors: ['run_not_found', 'manifest_not_found', 'job_not_found', 'run_already_started', 'shutting_down', 'COMFYUI_START_FAILED', 'COMFYUI_TIMEOUT'],
  handler: async ({ ctx, params }) => {
    const started = await ctx.runner.start(params.id ?? '');
    return json(started, 202, { location: `/jobs/${started.run_id}` });
  },
});
