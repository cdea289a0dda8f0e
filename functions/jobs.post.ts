import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import type { InputsConfig } from '../lib/config.ts';
import { createJob, isMultipart } from '../lib/inputs/intake.ts';
import { jobUrls } from '../lib/jobs/urls.ts';
import type { UrlGuard } from '../lib/net/url-guard.ts';
import type { JobParser } from '../lib/jobs/job-parser.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { CreatedJobSchema, MultipartJobSchema, RunSummarySchema } from '../lib/api/schemas.ts';
import { preferredWait } from '../lib/http/prefer.ts';
import { startCreated } from '../lib/runner/start-created.ts';
import type { Runner } from '../lib/runner/runner.ts';
import { JOB_SCHEMA } from '../lib/jobs/schema.ts';

export interface CreateJobContext extends FunctionContext {
  readonly config: FunctionContext['config'] & { readonly runsDir: string; readonly inputs: InputsConfig };
  readonly runs: Pick<RunStore, 'create' | 'get' | 'paths'>;
  readonly inputGuard?: Pick<UrlGuard, 'check'>;
  readonly jobParser?: Pick<JobParser, 'parse'>;
  /** For `"start": true` (and `Prefer: wait=`). */
  readonly runner?: Pick<Runner, 'start' | 'startAtCreate' | 'waitFor'>;
}

/**
 * POST /jobs: a JSON job, or multipart/form-data (`job` part + one file part per input).
 * Validates everything (400 `validation_failed` listing every issue, 413 naming a limit; nothing
 * written), creates the run directory durably and answers 202 with where the run lives.
 */
export default defineFunction<CreateJobContext>({
  method: 'POST',
  path: '/jobs',
  summary: 'Create a run from a job',
  description:
    'Validates the job (every issue listed, nothing written on failure) and creates its run directory durably; the run stays queued until POST /jobs/{id}/start. JSON, or multipart/form-data with a `job` part and one file part per input.',
  tags: ['jobs'],
  requestBody: { 'application/json': JOB_SCHEMA, 'multipart/form-data': MultipartJobSchema },
  headers: { Prefer: { description: 'with `"start": true`: `wait=<seconds>` (RFC 7240, at most 60): answer once the run ended, if it ends in time' } },
  responses: {
    200: { description: '`"start": true` with Prefer: wait= and the run ended in time: its final summary', schema: RunSummarySchema, headers: { 'Preference-Applied': 'wait=<seconds>' } },
    202: { description: 'the run exists, queued (running with `"start": true`)', schema: CreatedJobSchema, headers: { Location: 'the run: /jobs/{run_id}' } },
  },
  errors: ['invalid_prefer', 'run_already_started', 'shutting_down', 'COMFYUI_START_FAILED', 'COMFYUI_TIMEOUT', 'invalid_json', 'invalid_multipart', 'invalid_input_name', 'duplicate_input', 'validation_failed', 'webhook_url_not_allowed', 'webhooks_disabled', 'server_busy'],
  bodyLimit: (request, ctx) => (isMultipart(request) ? ctx.config.inputs.maxRequestBytes : ctx.config.maxBodyBytes),
  handler: async ({ request, ctx }) => {
    const wait = preferredWait(request); // before anything is written
    const runner = ctx.runner;
    const run = await createJob(request, runner ? { ...ctx, startAtCreate: (job, text) => runner.startAtCreate(job, text) } : ctx);
    const location = `/jobs/${run.run_id}`;
    const created = { run_id: run.run_id, status: 'queued', manifest: run.manifestPath, workdir: run.workdir, ...jobUrls(run.run_id) };
    if (!run.start || !ctx.runner) return json(created, 202, { location });
    const started = await startCreated({ runner: ctx.runner, runs: ctx.runs }, run.run_id, wait, request.signal, run.started);
    if (started.ended) return json(started.ended, 200, { location, 'preference-applied': `wait=${wait}` });
    return json({ ...created, status: 'running', run_status: 'running' }, 202, { location });
  },
});
