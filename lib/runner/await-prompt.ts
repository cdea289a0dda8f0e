/**
 * Decides when a submitted prompt is done, as the ComfyUI doc's §5 says: the WebSocket only
 * hints (`executing {node:null}` or an `execution_*` end message), `/history/{id}` decides, and
 * `/queue` tells a waiting prompt from a lost one. Polling goes on whatever the socket does.
 */
import type { ComfyUIClient } from '../comfyui/client.ts';
import { isComfyUIError } from '../comfyui/errors.ts';
import type { HistoryEntry, QueueState } from '../comfyui/types.ts';

export type PromptSource = Pick<ComfyUIClient, 'history' | 'queue'>;

export type PromptOutcome =
  | { kind: 'finished'; entry: HistoryEntry }
  | { kind: 'lost' }
  | { kind: 'timeout' }
  | { kind: 'crashed'; message: string }
  /** ComfyUI kept answering, but not as its API says (garbage, wrong shape, too large). */
  | { kind: 'protocol'; message: string }
  | { kind: 'stopped' }
  | { kind: 'cancelled' };

export interface AwaitOptions {
  promptId: string;
  source: PromptSource;
  deadline: number;
  /** Aborted by the runner (ComfyUI crashed, VIDAX stopping, a cancel); its reason is the outcome. */
  signal: AbortSignal;
  /** How often to poll while the socket has said nothing (ms). */
  pollMs: number;
  /** ComfyUI unreachable this long counts as a crash (ms). */
  unreachableMs: number;
  onQueuePosition(position: number | null): void;
  /** The event socket is up: wait for its hint (or one poll interval) before the first look. */
  socketFirst?: boolean;
}

/**
 * A waitable hint: `wake()` ends the current `sleep` early; a wake that comes while nobody
 * sleeps (the loop is busy asking history) makes the next `sleep` return at once.
 */
export class Hint {
  private resolve: (() => void) | undefined;
  private woken = false;
  done = false;
  wake(done = false): void {
    if (done) this.done = true;
    if (this.resolve) this.resolve();
    else this.woken = true;
  }
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (this.woken || signal.aborted) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        this.resolve = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
      this.resolve = finish;
    });
  }
}

/** 0 = running, n = n-th pending (the client sorts pending by number), null = not queued. */
function queuePosition(q: QueueState, promptId: string): number | null {
  if (q.running.some((item) => item.prompt_id === promptId)) return 0;
  const i = q.pending.findIndex((item) => item.prompt_id === promptId);
  return i === -1 ? null : i + 1;
}

export async function awaitPrompt(opts: AwaitOptions, hint: Hint): Promise<PromptOutcome> {
  const { promptId, source, signal } = opts;
  let unreachableSince: number | null = null;
  let missing = 0;
  let quickRetries = 0;
  if (opts.socketFirst) await hint.sleep(Math.min(opts.pollMs, Math.max(0, opts.deadline - Date.now())), signal);
  for (;;) {
    if (signal.aborted) return signal.reason as PromptOutcome;
    const now = Date.now();
    if (now >= opts.deadline) return { kind: 'timeout' };
    try {
      const entry = await source.history(promptId);
      unreachableSince = null;
      if (entry) return { kind: 'finished', entry };
      if (hint.done && quickRetries < 20) {
        // The socket said it ended: history lands right after execution_success.
        quickRetries++;
        await hint.sleep(25, signal);
        continue;
      }
      const position = queuePosition(await source.queue(), promptId);
      if (position === null) {
        // It may have moved from the queue to history between the two calls: look once more.
        const again = await source.history(promptId);
        if (again) return { kind: 'finished', entry: again };
        missing++;
        if (missing >= 2) return { kind: 'lost' };
      } else {
        missing = 0;
      }
      opts.onQueuePosition(position);
    } catch (err) {
      unreachableSince ??= now;
      if (now - unreachableSince >= opts.unreachableMs) {
        const message = (err as Error).message;
        if (isComfyUIError(err, 'COMFYUI_PROTOCOL_ERROR')) return { kind: 'protocol', message: `for ${now - unreachableSince} ms: ${message}` };
        return { kind: 'crashed', message: `ComfyUI unreachable for ${now - unreachableSince} ms: ${message}` };
      }
    }
    await hint.sleep(Math.min(opts.pollMs, Math.max(0, opts.deadline - Date.now())), signal);
  }
}
