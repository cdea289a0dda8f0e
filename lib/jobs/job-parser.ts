import { Worker } from 'node:worker_threads';
import * as v from 'valibot';
import { ERRORS, type ErrorCode, vidaxError } from '../errors.ts';
import { parseJsonBytes } from '../http/body.ts';
import { issueList, validationFailed } from '../http/function.ts';
import { isPlainObject } from './checks.ts';
import { JOB_SCHEMA, type Job, wrapHint } from './schema.ts';
import { type PreparedJob, prepareStored, summaryOf } from './stored-job.ts';
import type { GraphReply } from '../comfyui/reply-graphs.ts';

/** JSON text → a validated job, synchronously; throws `invalid_json` or `validation_failed`. */
export function parseJobBytes(bytes: Uint8Array): Job {
  return parseJobValue(parseJsonBytes(bytes));
}

/** A parsed value → a validated job; throws `validation_failed` listing every issue. */
export function parseJobValue(raw: unknown): Job {
  const parsed = v.safeParse(JOB_SCHEMA, raw, { abortEarly: false });
  if (!parsed.success) {
    // A ComfyUI export or /prompt body: the error's message itself says how to wrap it.
    const hint = isPlainObject(raw) ? wrapHint(raw) : null;
    throw validationFailed(issueList(parsed.issues), hint?.message);
  }
  return parsed.output;
}

/** A job without its workflow: what creating a run needs besides job.json's text. */
export type JobSummary = Omit<Job, 'workflow'>;

/** A validated job: its summary, and job.json's text (compact; inline input bytes left out). */
export interface ParsedJob {
  job: JobSummary;
  storedText: Uint8Array;
}

/** The job as job.json keeps it: URL inputs (fetched at prepare), not inline bytes (files by then). */
export function storedJob<J extends JobSummary>(job: J): J {
  const urls = Object.entries(job.inputs ?? {}).filter(([, spec]) => spec.url !== undefined);
  const { inputs: _all, ...rest } = job;
  return (urls.length > 0 ? { ...rest, inputs: Object.fromEntries(urls) } : rest) as J;
}

/** A whole job → its summary and job.json's text. */
export function toParsed(job: Job): ParsedJob {
  const { workflow: _wf, ...summary } = job;
  // TextEncoder: a buffer of its own (never Buffer's shared pool), so it can move between threads.
  return { job: summary, storedText: new TextEncoder().encode(`${JSON.stringify(storedJob(job))}\n`) };
}

export interface JobParser {
  /**
   * Parses and validates a job body: in this thread when small, else on the parser thread (to
   * which a large `bytes` may be moved: do not use it afterwards).
   */
  parse(bytes: Buffer): Promise<ParsedJob>;
  /**
   * A stored job.json → its summary and the graph to send (`prepareStored`), on the parser
   * thread when large (`bytes` is then moved there).
   */
  prepare(bytes: Buffer, runId: string, uploaded: Readonly<Record<string, string>> | null): Promise<PreparedJob>;
  /** A stored job.json → the job without its workflow, on the parser thread when large. */
  summary(bytes: Buffer): Promise<JobSummary>;
  /** A large ComfyUI `/history` or `/queue` reply → its value without the prompts' graphs, on the parser thread. */
  comfyuiReply(bytes: Buffer, kind: GraphReply): Promise<unknown>;
  close(): Promise<void>;
}

export interface JobParserOptions {
  /** Bodies at least this large are parsed and validated off the event loop. */
  offThreadBytes: number;
  /** Most large bodies waiting for (or in) the parser thread; more are 503 `server_busy`. */
  maxQueued: number;
}

/** What the worker is asked: validate a body, prepare a stored job, or summarise one. */
export type WorkerRequest =
  | { id: number; op: 'parse'; bytes: Uint8Array }
  | { id: number; op: 'prepare'; bytes: Uint8Array; runId: string; uploaded: Readonly<Record<string, string>> | null }
  | { id: number; op: 'summary'; bytes: Uint8Array }
  | { id: number; op: 'comfyui-reply'; bytes: Uint8Array; kind: GraphReply };

/** What the worker sends back: the answer, or the error's public fields. */
export type WorkerReply =
  | ({ id: number } & ParsedJob)
  | ({ id: number } & PreparedJob)
  | { id: number; job: JobSummary }
  | { id: number; value: unknown }
  | { id: number; error: { code: string; message: string; details?: unknown } };

// In the bundle (dist/vidax.mjs) the worker is dist/job-worker.mjs, built beside it (package.json
// `build`). From source it is the .ts file beside this one, loaded through tsx, whose loader a
// worker thread does not inherit.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const newWorker = () =>
  FROM_SOURCE
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./job-worker.ts', import.meta.url).href)}); })`,
        { eval: true },
      )
    : new Worker(new URL('./job-worker.mjs', import.meta.url));

/**
 * The job parser: JSON.parse and the schema of a large job cost tens to hundreds of
 * milliseconds of CPU (a 30 MB workflow: ~250 ms), which on the event loop would stall every
 * other request. Bodies of `offThreadBytes` or more go to one worker thread, one at a time,
 * with at most `maxQueued` waiting. The thread also writes job.json's compact text and sends
 * back only it (moved, not copied) and the job without its workflow, so the loop never parses,
 * validates, clones or serialises a large workflow.
 */
export function createJobParser(opts: JobParserOptions): JobParser {
  let worker: Worker | null = null;
  let nextId = 0;
  const pending = new Map<number, { resolve: (reply: never) => void; reject: (err: unknown) => void }>();
  /** Validations of bodies waiting (bounded by `maxQueued`); stored jobs of started runs are not counted. */
  let parsing = 0;

  const failAll = (err: unknown) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const start = (): Worker => {
    const w = newWorker();
    w.unref();
    w.on('message', (reply: WorkerReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (!('error' in reply)) {
        const { id: _id, ...answer } = reply;
        p.resolve(answer as never);
      } else {
        const { code, message, details } = reply.error;
        p.reject(
          code in ERRORS && code !== 'internal_error'
            ? vidaxError(code as ErrorCode, message, details === undefined ? {} : { details })
            : new Error(`job parser: ${message}`),
        );
      }
      if (pending.size === 0) w.unref();
    });
    const gone = (err: unknown) => {
      if (worker === w) worker = null;
      failAll(err instanceof Error ? err : new Error(`job parser thread exited (${String(err)})`));
    };
    w.on('error', gone);
    w.on('exit', gone);
    return w;
  };

  /** Sends a request to the thread, moving `bytes` there when they own their buffer. */
  function send<T>(req: WorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never): Promise<T> {
    worker ??= start();
    worker.ref();
    const id = nextId++;
    // Moved, not copied, when the bytes own their ArrayBuffer (a large Buffer.concat or file read
    // does): the caller's buffer is then empty.
    const { bytes } = req;
    const own = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength;
    const moved = own ? new Uint8Array(bytes.buffer) : new Uint8Array(bytes);
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (reply: never) => void, reject });
      (worker as Worker).postMessage({ ...req, id, bytes: moved }, [moved.buffer as ArrayBuffer]);
    });
  }
  /** `f` in this thread for small inputs (a rejected promise for what it throws). */
  const inline = <T>(f: () => T): Promise<T> => {
    try {
      return Promise.resolve(f());
    } catch (err) {
      return Promise.reject(err);
    }
  };

  return {
    parse(bytes) {
      if (bytes.byteLength < opts.offThreadBytes) return inline(() => toParsed(parseJobBytes(bytes)));
      if (parsing >= opts.maxQueued) {
        return Promise.reject(
          vidaxError('server_busy', `${parsing} large jobs are being parsed; try again shortly`, { headers: { 'Retry-After': '1' } }),
        );
      }
      parsing++;
      return send<ParsedJob>({ op: 'parse', bytes }).finally(() => {
        parsing--;
      });
    },
    prepare(bytes, runId, uploaded) {
      if (bytes.byteLength < opts.offThreadBytes) return inline(() => prepareStored(bytes, runId, uploaded));
      return send<PreparedJob>({ op: 'prepare', bytes, runId, uploaded });
    },
    summary(bytes) {
      if (bytes.byteLength < opts.offThreadBytes) return inline(() => summaryOf(bytes));
      return send<{ job: JobSummary }>({ op: 'summary', bytes }).then((r) => r.job);
    },
    comfyuiReply(bytes, kind) {
      return send<{ value: unknown }>({ op: 'comfyui-reply', bytes, kind }).then((r) => r.value);
    },
    async close() {
      const w = worker;
      worker = null;
      failAll(vidaxError('shutting_down', 'VIDAX is stopping'));
      await w?.terminate();
    },
  };
}
