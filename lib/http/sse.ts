/**
 * A Server-Sent Events body: a pull-based ReadableStream over a bounded queue of our own. A
 * reader that lets more than `maxQueuedBytes` pile up is cut off (the stream ends; the client
 * resumes with `Last-Event-ID`) instead of growing memory. A comment line every `heartbeatMs`
 * keeps proxies and clients from timing the stream out.
 */
import { vidaxError } from '../errors.ts';

const encoder = new TextEncoder();

export const SEQ = /^\d{1,15}$/;
export const invalidLastEventId = (message: string, details?: unknown) => vidaxError('invalid_last_event_id', message, { details });

/** The seq to resume after: `Last-Event-ID` (what EventSource sends on reconnect) wins over `?after=`. */
export function resumeAfter(request: Request): number {
  const header = request.headers.get('last-event-id');
  const query = request.url.includes('?') ? new URL(request.url).searchParams.get('after') : null;
  const raw = header !== null && header.trim() !== '' ? header.trim() : query;
  if (raw === null) return 0;
  if (!SEQ.test(raw)) throw invalidLastEventId(`${header !== null && header.trim() !== '' ? 'Last-Event-ID' : 'after'} must be an event seq (a non-negative integer)`);
  return Number(raw);
}

export interface SseOptions {
  heartbeatMs: number;
  maxQueuedBytes: number;
  /** Sent first as `retry:`: how long a client waits before it reconnects. */
  retryMs?: number;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
  /** Called once when the stream ends, for whatever reason. */
  onClose(reason: 'ended' | 'slow' | 'gone'): void;
}

export interface SseWriter {
  readonly stream: ReadableStream<Uint8Array>;
  /**
   * Queues one event; false if the stream is closed (or has just been cut for a slow reader).
   * `replay`: part of the catch-up a watcher asked for, never counted against the bound.
   */
  event(id: number, type: string, data: string, replay?: boolean): boolean;
  comment(text: string): boolean;
  /** Ends the stream after what is queued. */
  end(): void;
}

export function createSse(opts: SseOptions): SseWriter {
  // Strings, encoded only when the socket asks: a replay queues references to the hub's lines.
  let queue: string[] = [];
  let head = 0;
  let queued = 0;
  let closed = false;
  let wake: (() => void) | null = null;
  let heartbeat: NodeJS.Timeout | undefined;

  const finish = (reason: 'ended' | 'slow' | 'gone') => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    opts.signal?.removeEventListener('abort', gone);
    if (reason !== 'ended') {
      queue = []; // nothing more for a reader that is gone or too slow
      head = 0;
      queued = 0;
    }
    wake?.();
    opts.onClose(reason);
  };
  const gone = () => finish('gone');

  const push = (text: string, replay = false): boolean => {
    if (closed) return false;
    queue.push(text);
    if (!replay) queued += text.length;
    if (queued > opts.maxQueuedBytes) {
      finish('slow');
      return false;
    }
    wake?.();
    return true;
  };

  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        while (head === queue.length && !closed) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (head < queue.length) {
          let text = '';
          while (head < queue.length && text.length < 64 * 1024) text += queue[head++];
          if (head === queue.length) {
            queue = [];
            head = 0;
            queued = 0;
          } else {
            queued = Math.max(0, queued - text.length);
          }
          controller.enqueue(encoder.encode(text));
        } else {
          controller.close();
        }
      },
      cancel() {
        finish('gone');
      },
    },
    { highWaterMark: 0 },
  );

  if (opts.signal?.aborted) finish('gone');
  else opts.signal?.addEventListener('abort', gone, { once: true });
  if (opts.retryMs !== undefined) push(`retry: ${opts.retryMs}\n\n`, true);
  heartbeat = setInterval(() => push(': keep-alive\n\n'), opts.heartbeatMs);

  return {
    stream,
    event: (id, type, data, replay) => push(`id: ${id}\nevent: ${type}\ndata: ${data}\n\n`, replay),
    comment: (text) => push(`: ${text.replace(/[\r\n]/g, ' ')}\n\n`),
    end: () => finish('ended'),
  };
}
