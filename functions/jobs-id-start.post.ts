import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import type { Runner } from '../lib/runner/runner.ts';

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
  handler: async ({ ctx, params }) => {
    const started = await ctx.runner.start(params.id ?? '');
    return json(started, 202, { location: `/jobs/${started.run_id}` });
  },
});
