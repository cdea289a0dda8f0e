import * as v from 'valibot';
import { JOB_SCHEMA } from '../jobs/schema.ts';
import { PHASES } from '../runs/manifest.ts';

/*
 * Schemas of what the endpoints answer, for the OpenAPI document and the contract tests
 * (functions declare them in `responses`). Objects are open (`v.object`): a client must accept
 * fields it does not know, so adding one is not a breaking change.
 */

const text = (description: string) => v.pipe(v.string(), v.description(description));
const time = (description: string) => v.pipe(v.string(), v.isoTimestamp(), v.description(description));
const nullableTime = (description: string) => v.nullable(time(description));

export const RunErrorSchema = v.pipe(
  v.object({ code: text('a code of the error catalogue'), message: v.string(), details: v.optional(v.unknown()) }),
  v.description('why a run or phase failed'),
);

export const PhaseSchema = v.pipe(
  v.looseObject({
    status: v.picklist(['queued', 'running', 'completed', 'failed', 'skipped']),
    started_at: nullableTime('when the phase started'),
    finished_at: nullableTime('when the phase ended'),
    error: v.nullable(RunErrorSchema),
  }),
  v.description('one phase; phase-specific fields (prompt_id, progress, queue_position, outputs, placeholder, reason, …) beside these'),
);

const Urls = {
  manifest_url: text('GET this for the manifest (root-relative)'),
  artifacts_url: text('GET this for the artifacts (root-relative)'),
};

const PhasesSchema = v.object(Object.fromEntries(PHASES.map((p) => [p, PhaseSchema])) as Record<(typeof PHASES)[number], typeof PhaseSchema>);
const RunStatus = v.picklist(['queued', 'running', 'completed', 'failed']);
const ExitStatus = v.nullable(v.picklist(['success', 'partial', 'failed']));

/** GET /jobs/:id (and each run summary elsewhere). */
export const RunSummarySchema = v.object({
  run_id: text('the run id, e.g. r_1767225600000_0000k3x9qa'),
  run_status: RunStatus,
  exit_status: ExitStatus,
  phases: PhasesSchema,
  manifest: text('absolute path of manifest.json on the VIDAX host'),
  workdir: text('absolute path of the run directory on the VIDAX host'),
  ...Urls,
  created_at: time('creation time'),
  updated_at: time('last manifest write'),
  error: v.nullable(RunErrorSchema),
});

export const WebhookDeliverySchema = v.object({
  id: text('the webhook-id header of every attempt: msg_<run_id>_<seq>'),
  type: text('the event type'),
  state: v.picklist(['pending', 'delivered', 'failed']),
  attempts: v.pipe(v.number(), v.integer(), v.minValue(0)),
  last_status: v.pipe(v.nullable(v.union([v.number(), v.string()])), v.description('HTTP status of the last attempt, or timeout / network_error / blocked')),
  delivered_at: nullableTime('when a 2xx came back'),
  next_attempt_at: nullableTime('when the next attempt is due (pending only)'),
  failed_at: nullableTime('when VIDAX gave up'),
});

/** GET /jobs/:id/manifest. */
export const ManifestSchema = v.looseObject({
  run_id: v.string(),
  created_at: time('creation time'),
  updated_at: time('last write'),
  started_at: v.optional(nullableTime('when the start was accepted')),
  run_status: RunStatus,
  exit_status: ExitStatus,
  name: v.nullable(v.string()),
  metadata: v.nullable(v.record(v.string(), v.unknown())),
  workdir: v.string(),
  phases: PhasesSchema,
  artifacts: v.array(
    v.object({
      path: text('relative to the run directory'),
      bytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
      sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
      phase: v.string(),
    }),
  ),
  error: v.nullable(RunErrorSchema),
  webhooks: v.optional(v.pipe(v.array(WebhookDeliverySchema), v.description('deliveries of the job\'s webhook (jobs with one only)'))),
});

export const CreatedJobSchema = v.object({
  run_id: v.string(),
  status: v.literal('queued'),
  manifest: text('absolute path of manifest.json on the VIDAX host'),
  workdir: text('absolute path of the run directory on the VIDAX host'),
  ...Urls,
});

/** POST /jobs as multipart/form-data: the JSON job in `job`, one file part per input (its field name is the input's name). */
export const MultipartJobSchema = v.objectWithRest(
  { job: text('the job as JSON (the application/json body)') },
  v.pipe(v.string(), v.description('a file part: its field name is the input name')),
);

export const StartedJobSchema = v.object({ run_id: v.string(), run_status: v.literal('running') });

export const HealthSchema = v.object({
  ok: v.literal(true),
  version: v.string(),
  uptime_s: v.pipe(v.number(), v.integer(), v.minValue(0)),
  media: v.optional(
    v.pipe(
      v.object({
        ok: v.pipe(v.boolean(), v.description('ffmpeg and ffprobe run, with an H.264 encoder and AAC')),
        ffmpeg: v.nullable(v.string()),
        ffprobe: v.nullable(v.string()),
        vidstab: v.pipe(v.boolean(), v.description('libvidstab filters present (stabilize)')),
        encoders: v.array(v.string()),
        encoder: v.nullable(v.string()),
        problems: v.optional(v.array(v.string())),
      }),
      v.description('ffmpeg/ffprobe as found at start'),
    ),
  ),
});

export const ComfyUIHealthSchema = v.object({
  ok: v.pipe(v.boolean(), v.description('ComfyUI answers /system_stats')),
  url: v.string(),
  managed: v.boolean(),
  pid: v.nullable(v.number()),
  status: v.picklist(['ready', 'starting', 'stopped', 'crashed', 'unreachable']),
  latency_ms: v.nullable(v.number()),
  version: v.optional(v.string()),
  devices: v.optional(v.array(v.object({ name: v.string(), type: v.string(), vram_total: v.number(), vram_free: v.number() }))),
  queue: v.optional(v.object({ running: v.number(), pending: v.number() })),
  restarts: v.number(),
  log_file: v.string(),
  error: v.optional(v.string()),
});

export const ComfyUIStartedSchema = v.object({
  ok: v.literal(true),
  status: v.literal('ready'),
  url: v.string(),
  managed: v.boolean(),
  pid: v.nullable(v.number()),
});

/** Any OpenAPI 3.1 document (GET /openapi.json answers VIDAX's own). */
export const OpenApiDocumentSchema = v.looseObject({
  openapi: v.string(),
  info: v.looseObject({ title: v.string(), version: v.string() }),
  paths: v.record(v.string(), v.unknown()),
});

export const TextSchema = v.string();

/** A file body (any bytes). */
export const BinarySchema = v.pipe(v.string(), v.description('the file bytes'));
/** Headers of a served file. */
export const FILE_HEADERS = {
  'Content-Length': 'bytes in this answer',
  ETag: 'the sha256 of the whole file, quoted',
  'Accept-Ranges': 'bytes',
} as const;
export const ArtifactListSchema = v.object({
  artifacts: v.array(
    v.object({
      path: v.string(),
      bytes: v.number(),
      sha256: v.string(),
      phase: v.string(),
      content_type: v.string(),
      url: v.string(),
    }),
  ),
});

/** POST /jobs/:id/cancel: the run's summary and when the cancel was asked for. */
export const CancelledJobSchema = v.object({
  ...RunSummarySchema.entries,
  cancel_requested_at: nullableTime('when the cancel was recorded (null for a run cancelled while queued)'),
});

/** Schemas the OpenAPI document names (components), referenced wherever they appear. */
export const NAMED_SCHEMAS = {
  Job: JOB_SCHEMA,
  RunSummary: RunSummarySchema,
  Manifest: ManifestSchema,
  Phase: PhaseSchema,
  RunError: RunErrorSchema,
  WebhookDelivery: WebhookDeliverySchema,
};
