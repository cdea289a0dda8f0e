import * as v from 'valibot';
import { DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENT_TYPES } from '../webhooks/events.ts';
import { INPUT_NAME } from '../inputs/names.ts';
import { checkGraph, checkLipsync, checkParams, guardShape, isPlainObject, jsonBytes, LIMITS, type PathIssue } from './checks.ts';

/*
 * JOB_SCHEMA: what POST /jobs accepts. Messages never echo the input (a hostile 30 MB string
 * must not come back in the error), and every object is checked to be a real object (not an
 * array) before valibot looks inside it. `schema/job.schema.json` is generated from this file
 * by `npm run gen:schema`.
 */

const UI_FORMAT =
  'this is a workflow in ComfyUI\'s UI format (top-level "nodes"/"links"); in ComfyUI export it with "Save (API Format)" and send that file';

type ObjectIssue = { expected: string | null; received: string };
const objectMessage = (what: string) => (issue: ObjectIssue) =>
  issue.expected === 'never' ? 'unknown field' : issue.received === 'undefined' ? 'is required' : `must be ${what}`;

/**
 * valibot's strictObject reports only the first unknown key of an object: `strict` reports every
 * one (at most LIMITS.issues, then one issue counting the rest), so a client fixes them in one go.
 */
function strict<const E extends v.ObjectEntries>(entries: E, message: ReturnType<typeof objectMessage>) {
  const schema = v.strictObject(entries, message);
  const run = schema['~run'];
  const everyKey: typeof run = function (this: typeof schema, dataset, config) {
    const input = dataset.value;
    const out = run.call(this, dataset, config);
    if (config.abortEarly || !isPlainObject(input)) return out;
    const unknown = Object.keys(input).filter((key) => !Object.hasOwn(entries, key));
    const issue = (key: string | undefined, message: string): v.StrictObjectIssue => ({
      kind: 'schema',
      type: 'strict_object',
      input: key,
      expected: 'never',
      received: key === undefined ? 'keys' : JSON.stringify(key),
      message,
      requirement: undefined,
      path: key === undefined ? undefined : [{ type: 'object', origin: 'key', input, key, value: input[key] }],
      issues: undefined,
      lang: config.lang,
      abortEarly: config.abortEarly,
      abortPipeEarly: config.abortPipeEarly,
    });
    // valibot has reported the first one.
    const more = unknown.slice(1, LIMITS.issues).map((key) => issue(key, 'unknown field'));
    if (unknown.length > LIMITS.issues) more.push(issue(undefined, `and ${unknown.length - LIMITS.issues} more unknown fields`));
    if (more.length > 0) {
      out.typed = false;
      (out.issues as v.StrictObjectIssue[] | undefined)?.push(...more);
    }
    return out;
  };
  return Object.assign(schema, { '~run': everyKey });
}

const plainObject = (what: string) =>
  v.custom<Record<string, unknown>>(isPlainObject, `must be ${what}`);

const anyObject = (what: string) => v.pipe(plainObject(what), v.record(v.string(), v.unknown()));

const int = (min: number, max: number) =>
  v.pipe(
    v.number('must be a number'),
    v.integer('must be an integer'),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );

const text = (max: number) =>
  v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(max, `must be at most ${max} characters`));

/** Adds path-carrying issues from a plain check function. */
const issuesFrom = <T>(check: (input: T) => PathIssue[]) =>
  v.rawCheck<T>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const { message, path } of check(dataset.value)) {
      addIssue({
        message,
        path: path.map((key) => ({ type: 'object', origin: 'value', input: {}, key: String(key), value: undefined })) as unknown as [
          v.ObjectPathItem,
        ],
      });
    }
  });

const NodeSchema = v.pipe(
  plainObject('a node object {class_type, inputs}'),
  v.looseObject(
    {
      class_type: v.pipe(text(256), v.description('the node type, e.g. "KSampler"')),
      inputs: v.pipe(anyObject('an object of the node\'s inputs'), v.description('widget values and links ["<nodeId>", <outputIndex>]')),
      _meta: v.optional(anyObject('an object')),
    },
    objectMessage('a node object {class_type, inputs}'),
  ),
);

const Nodes = v.record(text(64), NodeSchema, 'must be an object of nodes');

export const WorkflowSchema = v.pipe(
  plainObject('a ComfyUI workflow in API format (an object of nodes keyed by node id)'),
  v.check((w) => !Array.isArray(w.nodes) && !Array.isArray(w.links), UI_FORMAT),
  Nodes,
  v.minEntries(1, 'must have at least one node'),
  issuesFrom((w: v.InferOutput<typeof Nodes>) => checkGraph(w)),
  v.description('a ComfyUI workflow in API format ("Save (API Format)"): node id → {class_type, inputs, _meta?}'),
);

// valibot's object checks let an array through (`[]` has no unknown keys): each object is
// first checked to be a plain object.
const INPUT_NAME_MESSAGE = 'must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const inputName = v.pipe(v.string('must be a string'), v.regex(INPUT_NAME, INPUT_NAME_MESSAGE));

const ParamSchema = v.pipe(
  plainObject('an object {node, input, value} or {node, input, input_file}'),
  strict(
    {
      node: text(64),
      input: text(256),
      value: v.optional(v.unknown()),
      input_file: v.optional(v.pipe(inputName, v.description('the name of one of the job\'s inputs: the node input gets the name ComfyUI knows it by'))),
    },
    objectMessage('an object {node, input, value} or {node, input, input_file}'),
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const p = dataset.value;
    const hasValue = 'value' in p;
    if (hasValue === (p.input_file !== undefined)) {
      addIssue({
        message: hasValue ? 'give either value or input_file, not both' : 'is required (or give input_file)',
        path: [{ type: 'object', origin: 'value', input: p, key: 'value', value: p.value }],
      });
    }
  }),
);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const InputSchema = v.pipe(
  plainObject('an object {base64, filename?} or {url, filename?}'),
  strict(
    {
      base64: v.optional(
        v.pipe(
          v.string('must be a string'),
          v.check((b) => b.length % 4 === 0 && BASE64.test(b), 'must be standard base64 (A-Z a-z 0-9 + /, = padding)'),
        ),
      ),
      url: v.optional(v.pipe(v.string('must be a string'), v.maxLength(8192, 'must be at most 8192 characters'), v.regex(/^https?:\/\//i, 'must be an http(s) URL'))),
      filename: v.optional(text(255)),
    },
    objectMessage('an object {base64, filename?} or {url, filename?}'),
  ),
  v.check((i) => (i.base64 === undefined) !== (i.url === undefined), 'give exactly one of base64 or url'),
);

const evenSize = v.pipe(int(16, 8192), v.check((n: number) => n % 2 === 0, 'must be even (H.264 yuv420p)'));
export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;

const StabilizeSchema = v.pipe(
  plainObject('an object {enabled, shakiness?, smoothing?, zoom?}'),
  strict(
    {
      enabled: v.boolean('must be true or false'),
      shakiness: v.optional(int(1, 10)),
      smoothing: v.optional(int(0, 100)),
      zoom: v.optional(int(-50, 50)),
    },
    objectMessage('an object {enabled, shakiness?, smoothing?, zoom?}'),
  ),
);

const NodeInput = v.pipe(
  plainObject('an object {node, input}'),
  strict({ node: text(64), input: text(256) }, objectMessage('an object {node, input}')),
);

const LipsyncObject = strict(
    {
      enabled: v.boolean('must be true or false'),
      workflow: v.optional(WorkflowSchema),
      video: v.optional(NodeInput),
      audio: v.optional(
        v.pipe(
          plainObject('an object {node, input, input_file}'),
          strict({ node: text(64), input: text(256), input_file: inputName }, objectMessage('an object {node, input, input_file}')),
        ),
      ),
      timeout_s: v.optional(int(1, 86_400)),
    },
    objectMessage('an object {enabled, workflow, video, audio, timeout_s?}'),
);

const LipsyncSchema = v.pipe(
  plainObject('an object {enabled, workflow, video, audio, timeout_s?}'),
  LipsyncObject,
  issuesFrom((l: v.InferOutput<typeof LipsyncObject>) => checkLipsync(l)),
);

const EncodeSchema = v.pipe(
  plainObject('an object {enabled?, fps?, crf?, preset?, width?, height?, audio?}'),
  strict(
    {
      enabled: v.optional(v.boolean('must be true or false')),
      fps: v.optional(int(1, 240)),
      crf: v.optional(int(0, 51)),
      preset: v.optional(v.picklist(X264_PRESETS, `must be one of ${X264_PRESETS.join(', ')}`)),
      width: v.optional(evenSize),
      height: v.optional(evenSize),
      audio: v.optional(inputName),
    },
    objectMessage('an object {enabled?, fps?, crf?, preset?, width?, height?, audio?}'),
  ),
);

const PhasesSchema = v.pipe(
  plainObject('an object {stabilize?, lipsync?, encode?}'),
  strict(
    {
      stabilize: v.optional(StabilizeSchema),
      lipsync: v.optional(LipsyncSchema),
      encode: v.optional(EncodeSchema),
    },
    objectMessage('an object {stabilize?, lipsync?, encode?}'),
  ),
);

const WebhookUrl = v.pipe(
  v.string('must be a string'),
  v.maxLength(2048, 'must be at most 2048 characters'),
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  v.check((u) => !/[\u0000-\u0020\u007f]/.test(u), 'must not contain spaces or control characters'),
  v.check((u) => URL.canParse(u), 'must be an absolute URL'),
  v.check((u) => /^(https?:)?$/.test(URL.parse(u)?.protocol ?? ''), 'must be an http or https URL'),
  v.check((u) => !URL.parse(u)?.username && !URL.parse(u)?.password, 'must not carry a user name or password'),
  v.description('where deliveries are POSTed; the host must be in the config\'s webhooks.urlAllow'),
);

const WebhookSchema = v.pipe(
  plainObject('an object {url, events?}'),
  strict(
    {
      url: WebhookUrl,
      events: v.optional(
        v.pipe(
          v.array(v.picklist(WEBHOOK_EVENT_TYPES, 'must be a known event type'), 'must be an array of event types'),
          v.minLength(1, 'must name at least one event type'),
          v.check((types) => new Set(types).size === types.length, 'must not repeat an event type'),
          v.description(`event types to deliver; default ${DEFAULT_WEBHOOK_EVENTS.join(', ')}`),
        ),
      ),
    },
    objectMessage('an object {url, events?}'),
  ),
  v.description('signed deliveries of the run\'s events (Standard Webhooks)'),
);

const JobObject = strict(
  {
    workflow: WorkflowSchema,
    name: v.optional(v.pipe(v.string('must be a string'), v.maxLength(200, 'must be at most 200 characters'))),
    metadata: v.optional(
      v.pipe(
        anyObject('an object'),
        v.check((m) => jsonBytes(m) <= LIMITS.metadataBytes, `must be at most ${LIMITS.metadataBytes} bytes as JSON`),
        v.description('free-form object (≤ 64 KiB as JSON), echoed into the manifest'),
      ),
    ),
    params: v.optional(
      v.pipe(
        v.array(ParamSchema, 'must be an array of {node, input, value}'),
        v.maxLength(LIMITS.params, `must have at most ${LIMITS.params} entries`),
        v.description('overrides applied to the workflow before it is sent'),
      ),
    ),
    inputs: v.optional(
      v.pipe(
        plainObject('an object of inputs keyed by name'),
        v.record(inputName, InputSchema, 'must be an object of inputs keyed by name'),
        v.description('small inputs inline ({base64, filename?}) or fetched by VIDAX during prepare ({url, filename?}); files go in multipart parts'),
      ),
    ),
    phases: v.optional(PhasesSchema),
    timeout_s: v.optional(v.pipe(int(1, 86_400), v.description('deadline of the comfyui phase; default from config'))),
    start: v.optional(v.pipe(v.boolean('must be true or false'), v.description('true: start the run in the same request (as POST /jobs/{id}/start would)'))),
    webhook: v.optional(WebhookSchema),
  },
  objectMessage('a JSON object'),
);

const looksLikeNode = (x: unknown) => isPlainObject(x) && typeof x.class_type === 'string';

/**
 * What a new user posts instead of a job, and how to wrap it: a ComfyUI export as the whole body
 * (API format: an object of `{class_type, inputs}` nodes; or UI format), or a body for ComfyUI's
 * own `/prompt` (`{"prompt": …, "client_id": …}`). Null for anything else (a job with a
 * `workflow`, however wrong, gets the schema's own issues).
 */
export function wrapHint(raw: Record<string, unknown>): { message: string; path: string[] } | null {
  if (Object.hasOwn(raw, 'workflow')) return null;
  const values = Object.values(raw);
  if (values.length > 0 && values.every(looksLikeNode)) {
    return {
      path: [],
      message:
        'this is a ComfyUI workflow sent as the whole body, not a job: send {"workflow": <your export>} (options such as "params" or "phases" go beside "workflow")',
    };
  }
  if (Array.isArray(raw.nodes) && Array.isArray(raw.links)) {
    return {
      path: [],
      message:
        'this is a ComfyUI workflow in UI format sent as the whole body, not a job: in ComfyUI export it with "Save (API Format)" and send {"workflow": <that file>}',
    };
  }
  if (isPlainObject(raw.prompt)) {
    return {
      path: ['prompt'],
      message:
        'this is a body for ComfyUI\'s /prompt, not a job: send {"workflow": <the value of "prompt">} (VIDAX submits it to ComfyUI itself; "client_id" and "extra_data" are not needed)',
    };
  }
  return null;
}

/** The job POST /jobs accepts (see README "Jobs API"). */
export const JOB_SCHEMA = v.pipe(
  v.unknown(),
  issuesFrom<unknown>(guardShape),
  plainObject('a JSON object'),
  // A recognised non-job gets one issue, how to wrap it, instead of the noise of every node id as an unknown field.
  issuesFrom((raw: Record<string, unknown>) => {
    const hint = wrapHint(raw);
    return hint ? [hint] : [];
  }),
  JobObject,
  issuesFrom((job: v.InferOutput<typeof JobObject>) => checkParams(job.workflow, job.params ?? [])),
  v.title('VIDAX job'),
  v.description('A ComfyUI workflow in API format plus options; POST it to /jobs.'),
);

export type Job = v.InferOutput<typeof JOB_SCHEMA>;
export type Workflow = Job['workflow'];

/** Validates a job: `{ok:true, job}` or `{ok:false, issues:[{path, message}]}`. Never throws. */
export function parseJob(raw: unknown): { ok: true; job: Job } | { ok: false; issues: { path: string; message: string }[] } {
  const result = v.safeParse(JOB_SCHEMA, raw, { abortEarly: false });
  if (result.success) return { ok: true, job: result.output };
  return { ok: false, issues: result.issues.map((i) => ({ path: v.getDotPath(i) ?? '', message: i.message })) };
}
