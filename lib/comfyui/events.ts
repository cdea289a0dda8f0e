import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher, WebSocket } from 'undici';
import type { Logger } from '../logger.ts';
import { ComfyUIError } from './errors.ts';

/** A text message from ComfyUI's `/ws`: `{type, data}`. */
export interface ComfyUIEvent {
  type: string;
  data: Record<string, unknown>;
}

export type ConnectionState = 'open' | 'lost';

/**
 * The one WebSocket to ComfyUI for the whole process. Never the only source of truth: after
 * 'lost', events of prompts submitted with the old clientId never arrive on the new socket
 * (ComfyUI targets them at the clientId), so subscribers must poll `/history/{id}`.
 */
export interface EventStream {
  /** Resolves with the clientId of a registered socket (its first `status` arrived); connects if needed. */
  ready(timeoutMs?: number): Promise<string>;
  /** Messages whose `data.prompt_id` is `promptId`; returns the unsubscribe function. */
  subscribe(promptId: string, listener: (event: ComfyUIEvent) => void): () => void;
  /** 'open' (with the new clientId) after each registration, 'lost' when that socket closed. */
  onConnectionChange(listener: (state: ConnectionState, clientId: string) => void): () => void;
  /** The current registered clientId, or null while not connected. */
  readonly clientId: string | null;
  close(): void;
}

export interface EventStreamOptions {
  url: string;
  log: Logger;
  dispatcher?: Dispatcher;
  /** Reconnect delays: first, doubled after each failure, capped. */
  backoff?: { initialMs: number; maxMs: number };
  /** Default wait of `ready()`. */
  readyTimeoutMs?: number;
  /** Most bytes of one WebSocket message (without a `dispatcher`); a larger one closes the socket. Default 8 MiB. */
  maxMessageBytes?: number;
}

/**
 * Asks for no `permessage-deflate` on the event socket (undici always offers it): ComfyUI is on
 * loopback, where compressing every message only costs CPU on both ends (inflating its messages
 * was ~1.5 ms of VIDAX's CPU per job). The server then sends plain frames.
 */
class PlainWebSocketAgent extends Agent {
  override dispatch(opts: Agent.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return super.dispatch(opts.upgrade === 'websocket' && opts.headers ? { ...opts, headers: withoutExtensions(opts.headers) } : opts, handler);
  }
}

/** The request's headers without `sec-websocket-extensions` (whichever shape undici passes). */
function withoutExtensions(h: NonNullable<Dispatcher.DispatchOptions['headers']>): NonNullable<Dispatcher.DispatchOptions['headers']> {
  const keep = (name: unknown) => String(name).toLowerCase() !== 'sec-websocket-extensions';
  if (Array.isArray(h)) {
    const flat = h.flat() as string[];
    return flat.flatMap((v, i) => (i % 2 === 1 || !keep(v) ? [] : [v, flat[i + 1] as string]));
  }
  if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return [...(h as Iterable<[string, string]>)].filter(([k]) => keep(k)).flat();
  }
  return Object.fromEntries(Object.entries(h as Record<string, string>).filter(([k]) => keep(k)));
}

/**
 * Connects lazily (on `ready()` or `subscribe()`), with a fresh clientId per connection (reusing
 * one can unregister the new socket, doc §9). After a loss it reconnects with back-off while
 * someone subscribes or waits in `ready()`; otherwise it stays idle until asked again.
 * Binary frames (previews) are ignored.
 */
export function createEventStream({
  url,
  log,
  dispatcher: given,
  backoff = { initialMs: 500, maxMs: 10_000 },
  readyTimeoutMs = 10_000,
  maxMessageBytes = 8 * 1024 * 1024,
}: EventStreamOptions): EventStream {
  // undici caps WebSocket messages per dispatcher (`webSocket.maxPayloadSize`; its default is 128 MB).
  const own = given ? null : new PlainWebSocketAgent({ webSocket: { maxPayloadSize: maxMessageBytes } });
  const dispatcher: Dispatcher | undefined = given ?? own ?? undefined;
  const wsBase = `${url.replace(/\/+$/, '').replace(/^http/, 'ws')}/ws`;
  const subscribers = new Map<string, Set<(event: ComfyUIEvent) => void>>();
  const stateListeners = new Set<(state: ConnectionState, clientId: string) => void>();
  const waiters = new Set<{ resolve: (id: string) => void; reject: (err: Error) => void }>();
  let ws: WebSocket | null = null;
  let registeredId: string | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let delay = backoff.initialMs;
  let closed = false;
  let everOpened = false;

  const wanted = () => subscribers.size > 0 || waiters.size > 0;
  const emitState = (state: ConnectionState, id: string) => {
    for (const l of stateListeners) {
      try {
        l(state, id);
      } catch (err) {
        log.error('comfyui event listener failed', { error: String(err) });
      }
    }
  };

  function connect(): void {
    if (closed || ws || retryTimer) return;
    const id = randomUUID();
    const socket = new WebSocket(`${wsBase}?clientId=${id}`, dispatcher ? { dispatcher } : undefined);
    socket.binaryType = 'arraybuffer';
    ws = socket;
    everOpened = false;
    socket.addEventListener('open', () => {
      everOpened = true;
    });
    socket.addEventListener('message', (ev) => {
      if (typeof ev.data !== 'string') return;
      let msg: ComfyUIEvent;
      try {
        msg = JSON.parse(ev.data) as ComfyUIEvent;
      } catch {
        return;
      }
      if (!msg || typeof msg.type !== 'string' || typeof msg.data !== 'object' || msg.data === null) return;
      if (registeredId === null && msg.type === 'status') {
        registeredId = id;
        delay = backoff.initialMs;
        log.info('comfyui events connected', { client_id: id });
        for (const w of waiters) w.resolve(id);
        waiters.clear();
        emitState('open', id);
      }
      const promptId = msg.data.prompt_id;
      if (typeof promptId !== 'string') return; // e.g. `executing` without prompt_id after a reconnect
      for (const l of subscribers.get(promptId) ?? []) {
        try {
          l(msg);
        } catch (err) {
          log.error('comfyui event listener failed', { error: String(err), prompt_id: promptId });
        }
      }
    });
    socket.addEventListener('close', () => {
      if (ws !== socket) return;
      ws = null;
      const lostId = registeredId;
      registeredId = null;
      if (lostId) {
        log.warn('comfyui events connection lost', { client_id: lostId });
        emitState('lost', lostId);
      }
      if (!closed && wanted()) {
        const wait = delay;
        delay = Math.min(delay * 2, backoff.maxMs);
        retryTimer = setTimeout(() => {
          retryTimer = null;
          if (wanted()) connect();
        }, wait);
      }
    });
    socket.addEventListener('error', () => {}); // a close event follows
  }

  return {
    get clientId() {
      return registeredId;
    },
    ready(timeoutMs = readyTimeoutMs) {
      if (closed) return Promise.reject(new ComfyUIError('COMFYUI_UNREACHABLE', 'the ComfyUI event stream is closed'));
      if (registeredId) return Promise.resolve(registeredId);
      return new Promise<string>((resolve, reject) => {
        const waiter = {
          resolve: (id: string) => {
            clearTimeout(timer);
            resolve(id);
          },
          reject: (err: Error) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const silent = ws !== null && everOpened;
          waiter.reject(
            silent
              ? new ComfyUIError('COMFYUI_TIMEOUT', `ComfyUI's WebSocket sent no status within ${timeoutMs} ms`)
              : new ComfyUIError('COMFYUI_UNREACHABLE', `could not connect to ComfyUI's WebSocket at ${wsBase} within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        waiters.add(waiter);
        connect();
      });
    },
    subscribe(promptId, listener) {
      const set = subscribers.get(promptId) ?? new Set<(event: ComfyUIEvent) => void>();
      subscribers.set(promptId, set);
      set.add(listener);
      connect();
      return () => {
        set.delete(listener);
        if (set.size === 0 && subscribers.get(promptId) === set) subscribers.delete(promptId);
      };
    },
    onConnectionChange(listener) {
      stateListeners.add(listener);
      return () => {
        stateListeners.delete(listener);
      };
    },
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      for (const w of waiters) w.reject(new ComfyUIError('COMFYUI_UNREACHABLE', 'the ComfyUI event stream is closed'));
      waiters.clear();
      subscribers.clear();
      stateListeners.clear();
      ws?.close();
      ws = null;
      registeredId = null;
      void own?.close().catch(() => {});
    },
  };
}
