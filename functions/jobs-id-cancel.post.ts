import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import type { Runner } from '../lib/runner/runner.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { runSummary } from '../lib/runs/summary.ts';
import { CancelledJobSchema } from '../lib/api/schemas.ts';

export interface CancelJobContext extends FunctionContext {
  readonly runner: Pick<Runner, 'cancel'>;
  readonly runs: Pick<RunStore, 'paths'>;
}

/**
 * POST /jobs/:id/cancel: a queued run fails `CANCELLED` at once (200); a running one has the
 * request recorded durably, then stops (202, `cancel_requested_at` set; GET /jobs/:id or the
 * event stream shows the end); 200 again for a run already cancelled; 409 `run_finished` for a
 * run that completed or failed otherwise; 404 `run_not_found`.
 */
export default defineFunction<CancelJobContext>({
  method: 'POST',
  path: '/jobs/:id/cancel',
  summary: 'Cancel a run',
  description: 'A queued run fails CANCELLED at once (200); a running one records the request durably and stops (202); 200 again for a run already cancelled.',
  tags: ['jobs'],
  params: { id: { description: 'the run id, as POST /jobs answered it' } },
  responses: {
    200: { description: 'the run is cancelled (now or before)', schema: CancelledJobSchema, headers: { Location: 'the run: /jobs/{run_id}' } },
    202: { description: 'the run is stopping', schema: CancelledJobSchema, headers: { Location: 'the run: /jobs/{run_id}' } },
  },
  errors: ['run_not_found', 'manifest_not_found', 'run_finished', 'cancel_conflict'],
  handler: async ({ ctx, params }) => {
    const id = params.id ?? '';
    const { status, manifest } = await ctx.runner.cancel(id);
    const body = { ...runSummary(manifest, ctx.runs.paths(id).manifest), cancel_requested_at: manifest.cancel_requested_at ?? null };
    return json(body, status, { location: `/jobs/${id}` });
  },
});
