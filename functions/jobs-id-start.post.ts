import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import type { Runner } from '../lib/runner/runner.ts';
import { RunSummarySchema, StartedJobSchema } from '../lib/api/schemas.ts';
import { preferredWait } from '../lib/http/prefer.ts';
import { finishedWithin } from '../lib/runner/wait.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { runSummary } from '../lib/runs/summary.ts';

export interface StartJobContext extends FunctionContext {
  /** `waitFor` and `runs` serve `Prefer: wait=`; without them the preference is not applied. */
  readonly runner: Pick<Runner, 'start'> & Partial<Pick<Runner, 'waitFor'>>;
  readonly runs?: Pick<RunStore, 'get' | 'paths'>;
}

/**
 * POST /jobs/:id/start: 404 for an unknown run, 409 unless it is queued (of concurrent starts
 * exactly one wins), 500 with the ComfyUI error's code if ComfyUI cannot be made healthy (the
 * run stays queued), else 202 and the run goes on in the background. With `Prefer: wait=<s>`
 * (max 60) the answer waits for the run's end: 200 + the final summary + `Preference-Applied`.
 */
export default defineFunction<StartJobContext>({
  method: 'POST',
  path: '/jobs/:id/start',
  summary: 'Start a queued run',
  description: 'Makes ComfyUI healthy, claims the run durably and answers; the run goes on in the background.',
  tags: ['jobs'],
  params: { id: { description: 'the run id, as POST /jobs answered it' } },
  headers: { Prefer: { description: '`wait=<seconds>` (RFC 7240, at most 60): answer once the run ended, if it ends in time' } },
  responses: {
    200: { description: 'Prefer: wait= and the run ended in time: its final summary', schema: RunSummarySchema, headers: { 'Preference-Applied': 'wait=<seconds>' } },
    202: { description: 'the run is running', schema: StartedJobSchema, headers: { Location: 'the run: /jobs/{run_id}' } },
  },
  errors: ['invalid_prefer', 'run_not_found', 'manifest_not_found', 'job_not_found', 'run_already_started', 'shutting_down', 'COMFYUI_START_FAILED', 'COMFYUI_TIMEOUT'],
  handler: async ({ ctx, params, request }) => {
    const wait = preferredWait(request); // before the start: a bad header changes nothing
    const started = await ctx.runner.start(params.id ?? '');
    const location = `/jobs/${started.run_id}`;
    const { runner, runs } = ctx;
    const ended = runner.waitFor && runs ? await finishedWithin({ runner: { waitFor: runner.waitFor }, runs }, started.run_id, wait, request.signal) : null;
    if (ended && runs) return json(runSummary(ended, runs.paths(ended.run_id).manifest), 200, { location, 'preference-applied': `wait=${wait}` });
    return json(started, 202, { location });
  },
});
