/**
 * The one error catalogue: every code a client can see, in an HTTP error body or in a run's
 * `error` / `phases.*.error`, with the HTTP status it answers and what it means. Throwing sites
 * build errors from it (`vidaxError(code, …)`); the README's error table lists the same codes
 * (a test holds them in step). `scope` says where a client meets the code: `http` in a
 * response, `run` in a manifest, `both` in either. Never rename a code clients already see
 * (the contract mixes `validation_failed` and `COMFYUI_TIMEOUT`: both spellings stay).
 */
export const ERRORS = {
  // Requests.
  unauthorized: { status: 401, scope: 'http', meaning: 'missing or wrong `X-API-Key` (checked before anything else, also on unknown paths)' },
  not_found: { status: 404, scope: 'http', meaning: 'no such route' },
  method_not_allowed: { status: 405, scope: 'http', meaning: 'wrong method for the path; `Allow` lists every method it has' },
  payload_too_large: { status: 413, scope: 'http', meaning: 'body over `maxBodyBytes` (declared or streamed), or an input over an `inputs.*` limit (`details: {limit, max}` names it)' },
  invalid_json: { status: 400, scope: 'http', meaning: 'body is empty or not JSON' },
  validation_failed: { status: 400, scope: 'http', meaning: 'a body that fails its schema; `details` lists every issue with its path' },
  bad_request: { status: 400, scope: 'http', meaning: "HTTP that Node's parser refuses (bad request line or framing)" },
  headers_too_large: { status: 431, scope: 'http', meaning: 'request headers over 16 KiB' },
  request_timeout: { status: 408, scope: 'http', meaning: 'the request line and headers took over `headersTimeoutMs`, or the whole request over `requestTimeoutMs`' },
  internal_error: { status: 500, scope: 'http', meaning: 'a bug; no stack trace or path in the response, the full error is in the log' },
  shutting_down: { status: 503, scope: 'http', meaning: 'a start request while VIDAX is stopping' },
  server_busy: { status: 503, scope: 'http', meaning: 'too many large job bodies are being parsed at once (`jobParserMaxQueued`); retry after `Retry-After`' },
  // Runs.
  run_not_found: { status: 404, scope: 'http', meaning: 'no run with that id (or not a valid run id)' },
  manifest_not_found: { status: 404, scope: 'http', meaning: 'the run directory exists but has no `manifest.json`' },
  job_not_found: { status: 404, scope: 'http', meaning: 'the run directory exists but has no `job.json`' },
  logs_not_found: { status: 404, scope: 'http', meaning: 'the run has no `logs/events.jsonl`' },
  manifest_unreadable: { status: 500, scope: 'http', meaning: "the run's `manifest.json` is not valid JSON" },
  run_already_started: { status: 409, scope: 'http', meaning: 'only a queued run can be started (of concurrent starts exactly one wins)' },
  run_finished: { status: 409, scope: 'http', meaning: 'cancel of a run that already completed or failed (other than by a cancel)' },
  cancel_conflict: { status: 409, scope: 'http', meaning: 'the run changed state three times while a cancel tried to record itself; try again' },
  // Inputs and artifacts.
  invalid_multipart: { status: 400, scope: 'http', meaning: 'a multipart `POST /jobs` that cannot be parsed, is cut off, or has no or two `job` parts' },
  invalid_input_name: { status: 400, scope: 'http', meaning: 'an input (file part) name outside `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`' },
  duplicate_input: { status: 400, scope: 'http', meaning: 'two inputs with one name (two parts, or a part and `inputs` in the job)' },
  artifact_not_found: { status: 404, scope: 'http', meaning: 'not an artifact or input the manifest lists (nothing else is ever served)' },
  range_not_satisfiable: { status: 416, scope: 'http', meaning: 'a `Range` outside the file, malformed, or asking for several ranges' },
  // Webhooks.
  webhook_url_not_allowed: { status: 400, scope: 'http', meaning: "a job's `webhook.url` names a host outside `webhooks.urlAllow` or a loopback/private/link-local/metadata address (`details: {path, reason}`)" },
  webhooks_disabled: { status: 400, scope: 'http', meaning: 'a job has a `webhook` but the server has no `webhooks.secret`' },
  invalid_query: { status: 400, scope: 'http', meaning: 'a query parameter of `GET /jobs` is not valid (`status`, `limit` 1..500, `cursor`); `details` lists each with its name' },
  invalid_prefer: { status: 400, scope: 'http', meaning: '`Prefer: wait=` is not a whole number of seconds (larger numbers are cut to 60, other preferences are ignored)' },
  invalid_last_event_id: { status: 400, scope: 'http', meaning: "`Last-Event-ID` / `?after=` of `GET /jobs/:id/events` is not a seq (a non-negative integer) or names a seq past the end of the run's log (`details.last_seq`)" },
  // ComfyUI.
  COMFYUI_START_FAILED: { status: 500, scope: 'http', meaning: 'ComfyUI could not be started (it exited before it was ready, or autoStart is off)' },
  COMFYUI_TIMEOUT: { status: 500, scope: 'both', meaning: 'ComfyUI did not become ready or answer in time; in a run: `timeout_s` passed' },
  COMFYUI_UNREACHABLE: { status: 500, scope: 'run', meaning: 'no connection to ComfyUI (refused, reset, closed)' },
  COMFYUI_HTTP_ERROR: { status: 500, scope: 'run', meaning: 'ComfyUI answered with an unexpected HTTP status' },
  COMFYUI_PROTOCOL_ERROR: { status: 500, scope: 'run', meaning: "ComfyUI answered, but not as its API says (not JSON, wrong shape, or over `comfyui.maxReplyBytes`); `details.reason`" },
  COMFYUI_REJECTED: { status: 500, scope: 'run', meaning: "ComfyUI refused the workflow (`details`: its `error` and `node_errors`)" },
  COMFYUI_SUBMIT_FAILED: { status: 500, scope: 'run', meaning: 'submitting the prompt failed for a reason other than a ComfyUI answer' },
  COMFYUI_EXECUTION_ERROR: { status: 500, scope: 'run', meaning: 'a node raised while the prompt ran (`details`: node and exception)' },
  COMFYUI_INTERRUPTED: { status: 500, scope: 'run', meaning: 'someone other than VIDAX interrupted the prompt' },
  COMFYUI_CRASHED: { status: 500, scope: 'run', meaning: 'the managed ComfyUI exited, or ComfyUI was unreachable for 15 s, while the prompt ran' },
  COMFYUI_PROMPT_LOST: { status: 500, scope: 'run', meaning: "the prompt is neither in ComfyUI's queue nor in its history" },
  COMFYUI_DOWNLOAD_FAILED: { status: 500, scope: 'run', meaning: 'an output file could not be downloaded from ComfyUI' },
  // Run phases.
  STORAGE_ERROR: { status: 500, scope: 'run', meaning: 'VIDAX could not write a run file (disk full, read-only, out of descriptors): local, not ComfyUI; `details.errno`' },
  PREPARE_FAILED: { status: 500, scope: 'run', meaning: '`workflow.json` could not be written' },
  INPUT_FETCH_FAILED: { status: 500, scope: 'run', meaning: 'a URL input could not be fetched: refused by the outbound guard, HTTP error, too large, timeout (`details: {input, reason}`)' },
  INPUT_UPLOAD_FAILED: { status: 500, scope: 'run', meaning: 'ComfyUI refused the upload of an input a param names (`details: {input}`)' },
  ENCODE_FAILED: { status: 500, scope: 'run', meaning: 'the current video is empty, truncated or not media, or ffmpeg failed writing `final.mp4` (`details.last_lines`: its stderr tail)' },
  ENCODE_NO_MEDIA: { status: 500, scope: 'run', meaning: 'encode found no video or image among the outputs (`details.outputs` lists what it saw); a job that wants no video sets `encode.enabled: false`' },
  STABILIZE_FAILED: { status: 500, scope: 'run', meaning: 'a vidstab pass failed or there was nothing to stabilize (`details.last_lines`: ffmpeg\'s stderr tail)' },
  MEDIA_TOOL_MISSING: { status: 500, scope: 'run', meaning: 'a media phase needs ffmpeg/ffprobe (or an H.264 encoder) that VIDAX did not find at start; the message says what to install' },
  MEDIA_TIMEOUT: { status: 500, scope: 'run', meaning: 'an ffmpeg run took longer than `media.timeoutS` and was killed' },
  MEDIA_INPUT_MISSING: { status: 500, scope: 'run', meaning: '`phases.encode.audio` or `phases.lipsync.audio.input_file` names an input the run does not have' },
  LIPSYNC_REJECTED: { status: 500, scope: 'run', meaning: 'ComfyUI refused the lipsync workflow (`details`: its `error` and `node_errors`)' },
  LIPSYNC_EXECUTION_ERROR: { status: 500, scope: 'run', meaning: 'a node of the lipsync workflow raised (`details`: node and exception)' },
  LIPSYNC_TIMEOUT: { status: 500, scope: 'run', meaning: 'the lipsync prompt did not finish within its `timeout_s`; VIDAX interrupted that prompt' },
  LIPSYNC_INTERRUPTED: { status: 500, scope: 'run', meaning: 'someone other than VIDAX interrupted the lipsync prompt' },
  LIPSYNC_PROMPT_LOST: { status: 500, scope: 'run', meaning: "the lipsync prompt is neither in ComfyUI's queue nor in its history" },
  LIPSYNC_FAILED: { status: 500, scope: 'run', meaning: 'the lipsync workflow produced no video, or there was no video to lip-sync' },
  CANCELLED: { status: 409, scope: 'run', meaning: 'the run was cancelled (`POST /jobs/:id/cancel`); `details.phase` is the phase cut (null: it never started)' },
  RUNNER_ERROR: { status: 500, scope: 'run', meaning: 'an unexpected fault in the runner; the run fails rather than stay `running`' },
} as const satisfies Record<string, { status: number; scope: 'http' | 'run' | 'both'; meaning: string }>;

export type ErrorCode = keyof typeof ERRORS;
export type ComfyUIErrorCode = Extract<ErrorCode, `COMFYUI_${string}`>;

/**
 * An error as a client sees it: in an HTTP error body, a manifest's `error`, a phase's `error`.
 * (Manifests written by older versions may hold codes no longer thrown, hence `string`.)
 */
export interface RunError {
  code: ErrorCode | (string & {});
  message: string;
  details?: unknown;
}

/** The one error type of VIDAX: a stable code, an HTTP status, optional details. */
export class VidaxError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: string,
    status: number,
    message: string,
    options: { details?: unknown; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VidaxError';
    this.code = code;
    this.status = status;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }

  /** The `{code, message, details?}` a manifest records. */
  toRunError(): RunError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** A VidaxError of a catalogued code: its status comes from the catalogue. */
export const vidaxError = (
  code: ErrorCode,
  message: string,
  options?: { details?: unknown; headers?: Record<string, string>; cause?: unknown },
) => new VidaxError(code, ERRORS[code].status, message, options);

/** A run error of a catalogued code. */
export const runError = (code: ErrorCode, message: string, details?: unknown): RunError =>
  details === undefined ? { code, message } : { code, message, details };

export const unauthorized = () => vidaxError('unauthorized', 'missing or invalid X-API-Key header');
export const notFound = () => vidaxError('not_found', 'no such route');
export const methodNotAllowed = (allow: readonly string[]) =>
  vidaxError('method_not_allowed', `method not allowed; use ${allow.join(', ')}`, {
    headers: { Allow: allow.join(', ') },
  });
export const payloadTooLarge = (limit: number) =>
  vidaxError('payload_too_large', `request body exceeds ${limit} bytes`, { details: { max_bytes: limit } });
export const invalidJson = (message: string) => vidaxError('invalid_json', `request body is not valid JSON: ${message}`);

export const webhooksDisabled = () =>
  vidaxError('webhooks_disabled', 'this server sends no webhooks: it has no webhooks.secret configured (env VIDAX_WEBHOOKS_SECRET)');
export const webhookUrlNotAllowed = (reason: string) =>
  vidaxError('webhook_url_not_allowed', `webhook.url is not allowed: ${reason}`, { details: { path: 'webhook.url', reason } });
/** 413 naming the config limit that was passed (`inputs.maxFileBytes`, `inputs.maxInputs`, …). */
export const limitExceeded = (limit: string, max: number, what: string) =>
  vidaxError('payload_too_large', `${what} exceeds ${limit} (${max})`, { details: { limit, max } });
export const invalidMultipart = (message: string) => vidaxError('invalid_multipart', message);
export const invalidInputName = () =>
  vidaxError('invalid_input_name', 'input names must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$');
export const duplicateInput = (name: string) => vidaxError('duplicate_input', `input "${name}" is given twice`);
export const artifactNotFound = (id: string) => vidaxError('artifact_not_found', `run ${id} has no such artifact`);
export const rangeNotSatisfiable = (size: number) =>
  vidaxError('range_not_satisfiable', 'the Range header cannot be satisfied; send one range bytes=a-b within the file', {
    details: { size },
    headers: { 'content-range': `bytes */${size}` },
  });

/** The JSON error body: `{ok:false,error:{code,message,details?}}`. */
export interface ErrorBody {
  ok: false;
  error: { code: string; message: string; details?: unknown };
}

/** Maps anything thrown to a status, headers and the public body. Unknown errors become internal_error. */
export function describeError(err: unknown): {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: ErrorBody;
  internal: boolean;
} {
  if (err instanceof VidaxError) {
    const error: ErrorBody['error'] = { code: err.code, message: err.message };
    if (err.details !== undefined) error.details = err.details;
    return { status: err.status, headers: err.headers, body: { ok: false, error }, internal: false };
  }
  return {
    status: 500,
    headers: {},
    body: { ok: false, error: { code: 'internal_error', message: 'internal error; see the server log' } },
    internal: true,
  };
}
