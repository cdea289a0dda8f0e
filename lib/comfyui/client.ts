import type { GraphReply } from './reply-graphs.ts';
import { randomUUID } from 'node:crypto';
import { VidaxError, vidaxError } from '../errors.ts';
import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';
import { Agent, type Dispatcher, FormData, fetch, request } from 'undici';
import { download } from './download.ts';
import { ComfyUIError, toComfyUIError } from './errors.ts';
import type {
  CallOptions,
  DownloadResult,
  HistoryEntry,
  OutputFile,
  QueueItem,
  QueueState,
  RejectedDetails,
  SubmitInput,
  SubmitResult,
  SystemStats,
  UploadResult,
} from './types.ts';

export interface ComfyUIClient {
  readonly url: string;
  systemStats(opts?: CallOptions): Promise<SystemStats>;
  /** `POST /prompt`. 400 → COMFYUI_REJECTED ({error, node_errors}); 413/500 → COMFYUI_HTTP_ERROR. */
  submit(input: SubmitInput, opts?: CallOptions): Promise<SubmitResult>;
  /** `GET /history/{id}`: the entry, or null while queued/running/unknown/lost. */
  history(promptId: string, opts?: CallOptions): Promise<HistoryEntry | null>;
  queue(opts?: CallOptions): Promise<QueueState>;
  /** Interrupts that prompt only if it is the one running (never "whatever runs"). */
  interrupt(promptId: string, opts?: CallOptions): Promise<void>;
  /** Removes pending prompts from the queue (running ones are untouched). */
  deleteQueued(promptIds: readonly string[], opts?: CallOptions): Promise<void>;
  /** Streams `/view` into `destPath` (temp file + rename), hashing on the way. */
  download(file: OutputFile, destPath: string, opts?: CallOptions): Promise<DownloadResult>;
  /** `POST /upload/image` (any file type); `filename`: the name to give it (default: the file's own). */
  upload(filePath: string, opts?: CallOptions & { subfolder?: string; type?: string; overwrite?: boolean; filename?: string }): Promise<UploadResult>;
  close(): Promise<void>;
}

export interface ComfyUIClientOptions {
  url: string;
  /** Default deadline of each call (config.comfyui.requestTimeoutMs). */
  requestTimeoutMs: number;
  /** Connect timeout; defaults to min(requestTimeoutMs, 5000). */
  connectTimeoutMs?: number;
  /** The undici dispatcher to send through (tests pass a MockAgent); by default an own Agent, closed by `close()`. */
  dispatcher?: Dispatcher;
  /** Most bytes of one JSON reply (history, queue, object_info, …): more is COMFYUI_PROTOCOL_ERROR. Default 32 MiB. */
  maxReplyBytes?: number;
  /**
   * Parses a `/history` or `/queue` reply of `largeReplyBytes` or more off the event loop, the
   * prompts' graphs left out (lib/comfyui/reply-graphs.ts). Without it, every reply parses here.
   */
  parseLargeReply?: (bytes: Buffer, kind: GraphReply) => Promise<unknown>;
  /** Default 1 MiB. */
  largeReplyBytes?: number;
  /** `queue()` calls within this many ms share one `GET /queue` (all runs poll it). Default 0: each call asks. */
  shareQueueMs?: number;
}

/** A prompt id VIDAX mints itself: a canonical lowercase UUID (valid for every ComfyUI version). */
export const mintPromptId = (): string => randomUUID();

type Reply = Dispatcher.ResponseData;

/** Errors of writing locally (never ComfyUI's doing). */
const LOCAL_FS_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EMFILE', 'ENFILE', 'EIO', 'EACCES', 'EPERM', 'ENAMETOOLONG']);

/** Reads a reply body as text, refusing more than `max` bytes (the rest is not read). */
async function cappedText(reply: Reply, what: string, max: number): Promise<string> {
  return (await cappedBytes(reply, what, max)).toString('utf8');
}

async function cappedBytes(reply: Reply, what: string, max: number): Promise<Buffer> {
  const declared = Number(reply.headers['content-length'] ?? 0);
  const tooLarge = () =>
    new ComfyUIError('COMFYUI_PROTOCOL_ERROR', `ComfyUI's reply to ${what} is larger than comfyui.maxReplyBytes (${max})`, {
      details: { reason: 'reply_too_large', max_bytes: max },
    });
  if (declared > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of reply.body) {
    total += (chunk as Buffer).length;
    if (total > max) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/**
 * The `POST /prompt` body around a graph already serialised (the same fields as the object
 * form): a large graph is copied once, never parsed or stringified on the event loop.
 */
function promptBody(graph: Uint8Array, input: SubmitInput): Buffer {
  const rest = {
    prompt_id: input.promptId,
    ...(input.clientId === undefined ? {} : { client_id: input.clientId }),
    ...(input.extraData === undefined ? {} : { extra_data: input.extraData }),
  };
  return Buffer.concat([Buffer.from('{"prompt":'), graph, Buffer.from(`,${JSON.stringify(rest).slice(1)}`)]);
}

/** The first `max` bytes of a reply body (the rest is not read). */
async function headText(reply: Reply, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of reply.body) {
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
    if (total >= max) break;
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

export function createComfyUIClient({
  url,
  requestTimeoutMs,
  connectTimeoutMs,
  dispatcher,
  maxReplyBytes = 32 * 1024 * 1024,
  parseLargeReply,
  largeReplyBytes = 1024 * 1024,
  shareQueueMs = 0,
}: ComfyUIClientOptions): ComfyUIClient {
  const base = url.replace(/\/+$/, '');
  const agent: Dispatcher = dispatcher ?? new Agent({
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
    connections: 32,
    connect: { timeout: connectTimeoutMs ?? Math.min(requestTimeoutMs, 5_000) },
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
  });

  /** One call with a deadline; `use` reads the reply (the body is always consumed or dumped). */
  async function call<T>(
    what: string,
    path: string,
    init: { method?: 'GET' | 'POST'; json?: unknown; jsonBytes?: Uint8Array },
    opts: CallOptions,
    use: (reply: Reply) => Promise<T>,
  ): Promise<T> {
    const ms = opts.timeoutMs ?? requestTimeoutMs;
    const deadline = AbortSignal.timeout(ms);
    const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
    let reply: Reply | undefined;
    try {
      reply = await request(`${base}${path}`, {
        dispatcher: agent,
        method: init.method ?? 'GET',
        signal,
        headersTimeout: Math.min(ms, requestTimeoutMs),
        bodyTimeout: Math.min(ms, requestTimeoutMs),
        ...(init.jsonBytes !== undefined
          ? { body: init.jsonBytes, headers: { 'content-type': 'application/json' } }
          : init.json === undefined
            ? {}
            : { body: JSON.stringify(init.json), headers: { 'content-type': 'application/json' } }),
      });
      return await use(reply);
    } catch (err) {
      if (opts.signal?.aborted && !deadline.aborted) throw err; // the caller cancelled
      if (err instanceof VidaxError && !(err instanceof ComfyUIError)) throw err; // e.g. STORAGE_ERROR: ours, not ComfyUI's
      throw toComfyUIError(err, what, base, deadline.aborted);
    } finally {
      await reply?.body.dump().catch(() => {});
    }
  }

  async function httpError(what: string, reply: Reply): Promise<ComfyUIError> {
    const text = (await headText(reply, 4096).catch(() => '')).slice(0, 500);
    return new ComfyUIError('COMFYUI_HTTP_ERROR', `ComfyUI answered ${what} with HTTP ${reply.statusCode}`, {
      details: { status: reply.statusCode, body: text },
    });
  }

  const expectJson = (what: string, graphs?: GraphReply) => async (reply: Reply) => {
    if (reply.statusCode !== 200) throw await httpError(what, reply);
    const bytes = await cappedBytes(reply, what, maxReplyBytes);
    if (graphs && parseLargeReply && bytes.byteLength >= largeReplyBytes) {
      try {
        return (await parseLargeReply(bytes, graphs)) as never;
      } catch {
        throw new ComfyUIError('COMFYUI_PROTOCOL_ERROR', `ComfyUI's reply to ${what} is not JSON`, { details: { reason: 'not_json' } });
      }
    }
    const text = bytes.toString('utf8');
    try {
      return JSON.parse(text) as never;
    } catch {
      // ComfyUI answered, but not with its API: not a network fault, not a crash.
      throw new ComfyUIError('COMFYUI_PROTOCOL_ERROR', `ComfyUI's reply to ${what} is not JSON`, {
        details: { reason: 'not_json', body: text.slice(0, 200) },
      });
    }
  };
  /** The queue, shared by callers within `shareQueueMs` (one in-flight request, one fresh answer). */
  let sharedQueue: { at: number; promise: Promise<QueueState> } | null = null;
  const readQueue = (opts: CallOptions): Promise<QueueState> =>
    call('GET /queue', '/queue', {}, opts, async (reply) => {
      const body = (await expectJson('GET /queue', 'queue')(reply)) as { queue_running?: unknown[][]; queue_pending?: unknown[][] };
      const item = (raw: unknown[]): QueueItem => {
        const extra = (raw[3] ?? {}) as { client_id?: unknown };
        return {
          number: Number(raw[0]),
          prompt_id: String(raw[1]),
          client_id: typeof extra.client_id === 'string' ? extra.client_id : null,
          outputs_to_execute: Array.isArray(raw[4]) ? raw[4].map(String) : [],
        };
      };
      if (!Array.isArray(body.queue_running ?? []) || !Array.isArray(body.queue_pending ?? [])) {
        throw new ComfyUIError('COMFYUI_PROTOCOL_ERROR', "ComfyUI's reply to GET /queue has no queue lists", { details: { reason: 'bad_shape' } });
      }
      return {
        running: (body.queue_running ?? []).map(item),
        pending: (body.queue_pending ?? []).map(item).sort((a, b) => a.number - b.number),
      };
    });
  const expectOk = (what: string) => async (reply: Reply) => {
    if (reply.statusCode !== 200) throw await httpError(what, reply);
  };

  return {
    url: base,
    systemStats: (opts = {}) => call('GET /system_stats', '/system_stats', {}, opts, expectJson('GET /system_stats')),

    submit: (input, opts = {}) =>
      call(
        'POST /prompt',
        '/prompt',
        input.prompt instanceof Uint8Array
          ? { method: 'POST', jsonBytes: promptBody(input.prompt, input) }
          : {
              method: 'POST',
              json: {
                prompt: input.prompt,
                prompt_id: input.promptId,
                ...(input.clientId === undefined ? {} : { client_id: input.clientId }),
                ...(input.extraData === undefined ? {} : { extra_data: input.extraData }),
              },
            },
        opts,
        async (reply) => {
          if (reply.statusCode === 400) {
            const text = await cappedText(reply, 'POST /prompt', maxReplyBytes);
            let body: Partial<RejectedDetails> | undefined;
            try {
              body = JSON.parse(text) as Partial<RejectedDetails>;
            } catch {
              throw new ComfyUIError('COMFYUI_HTTP_ERROR', 'ComfyUI answered POST /prompt with HTTP 400', {
                details: { status: 400, body: text.slice(0, 500) },
              });
            }
            const details: RejectedDetails = { error: body.error ?? 'unknown', node_errors: body.node_errors ?? {} };
            const message = typeof details.error === 'string' ? details.error : details.error.message;
            throw new ComfyUIError('COMFYUI_REJECTED', `ComfyUI rejected the workflow: ${message}`, { details });
          }
          const out = (await expectJson('POST /prompt')(reply)) as SubmitResult;
          return { prompt_id: out.prompt_id, number: out.number, node_errors: out.node_errors ?? {} };
        },
      ),

    history: (promptId, opts = {}) =>
      call('GET /history', `/history/${encodeURIComponent(promptId)}`, {}, opts, async (reply) => {
        const body = (await expectJson('GET /history', 'history')(reply)) as Record<string, HistoryEntry> | null;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new ComfyUIError('COMFYUI_PROTOCOL_ERROR', "ComfyUI's reply to GET /history is not an object", { details: { reason: 'bad_shape' } });
        }
        return Object.hasOwn(body, promptId) ? (body[promptId] as HistoryEntry) : null;
      }),

    queue: (opts = {}) => {
      // Only plain polls share (a caller's own deadline or signal asks alone).
      if (shareQueueMs <= 0 || opts.signal || opts.timeoutMs !== undefined) return readQueue(opts);
      const now = Date.now();
      if (sharedQueue && now - sharedQueue.at < shareQueueMs) return sharedQueue.promise;
      const promise = readQueue(opts);
      const entry = { at: now, promise };
      sharedQueue = entry;
      promise.catch(() => {
        if (sharedQueue === entry) sharedQueue = null; // a failure is not shared with later callers
      });
      return promise;
    },

    interrupt: (promptId, opts = {}) =>
      call('POST /interrupt', '/interrupt', { method: 'POST', json: { prompt_id: promptId } }, opts, expectOk('POST /interrupt')),

    deleteQueued: (promptIds, opts = {}) =>
      call('POST /queue', '/queue', { method: 'POST', json: { delete: promptIds } }, opts, expectOk('POST /queue')),

    download: (file, destPath, opts = {}) => {
      const query = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
      // A whole file may take longer than one call: 10× the call timeout overall, while the body
      // timeout (no byte for requestTimeoutMs) still catches a stalled transfer.
      const timeoutMs = opts.timeoutMs ?? requestTimeoutMs * 10;
      return call('GET /view', `/view?${query}`, {}, { ...opts, timeoutMs }, async (reply) => {
        if (reply.statusCode !== 200) throw await httpError(`GET /view (${file.filename})`, reply);
        try {
          return await download(reply.body, destPath);
        } catch (err) {
          // The local disk (full, read-only, out of descriptors) is not ComfyUI being unreachable.
          const code = (err as NodeJS.ErrnoException).code;
          if (code && LOCAL_FS_CODES.has(code)) {
            throw vidaxError('STORAGE_ERROR', `writing ${file.filename} into the run directory failed: ${code}`, { details: { errno: code }, cause: err });
          }
          throw err;
        }
      });
    },

    upload: async (filePath, opts = {}) => {
      const form = new FormData();
      form.append('image', await openAsBlob(filePath), opts.filename ?? basename(filePath));
      form.append('type', opts.type ?? 'input');
      if (opts.subfolder !== undefined) form.append('subfolder', opts.subfolder);
      if (opts.overwrite) form.append('overwrite', 'true');
      const deadline = AbortSignal.timeout(opts.timeoutMs ?? requestTimeoutMs);
      const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
      try {
        const res = await fetch(`${base}/upload/image`, { method: 'POST', body: form, dispatcher: agent, signal });
        const text = await res.text();
        if (res.status !== 200) {
          throw new ComfyUIError('COMFYUI_HTTP_ERROR', `ComfyUI answered POST /upload/image with HTTP ${res.status}`, {
            details: { status: res.status, body: text.slice(0, 500) },
          });
        }
        const out = JSON.parse(text) as UploadResult;
        return { name: out.name, subfolder: out.subfolder ?? '', type: out.type ?? 'input' };
      } catch (err) {
        if (opts.signal?.aborted && !deadline.aborted) throw err;
        throw toComfyUIError(err, 'POST /upload/image', base, deadline.aborted);
      }
    },

    close: () => (dispatcher ? Promise.resolve() : agent.close()),
  };
}
