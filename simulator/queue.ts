// PromptQueue like ComfyUI's: a heapq-ordered pending list (raw heap order is what GET /queue shows),
// at most one running item for our single worker, and an insertion-ordered, bounded, in-memory history.
import type { Graph } from './validate.ts';

export type ExtraData = Record<string, unknown> & { client_id?: string };
export type QueueItem = [number, string, Graph, ExtraData, string[]];
export interface HistoryStatus {
  status_str: 'success' | 'error';
  completed: boolean;
  messages: [string, Record<string, unknown>][];
}
export interface HistoryEntry {
  prompt: QueueItem;
  outputs: Record<string, unknown>;
  status: HistoryStatus;
  meta: Record<string, unknown>;
}

const less = (a: QueueItem, b: QueueItem) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

// Python's heapq, so the pending list has the very same raw order.
function siftDown(h: QueueItem[], start: number, pos: number): void {
  const item = h[pos]!;
  while (pos > start) {
    const parent = (pos - 1) >> 1;
    if (!less(item, h[parent]!)) break;
    h[pos] = h[parent]!;
    pos = parent;
  }
  h[pos] = item;
}
function siftUp(h: QueueItem[], pos: number): void {
  const end = h.length;
  const start = pos;
  const item = h[pos]!;
  let child = 2 * pos + 1;
  while (child < end) {
    const right = child + 1;
    if (right < end && !less(h[child]!, h[right]!)) child = right;
    h[pos] = h[child]!;
    pos = child;
    child = 2 * pos + 1;
  }
  h[pos] = item;
  siftDown(h, start, pos);
}

export class PromptQueue {
  private heap: QueueItem[] = [];
  private running = new Map<number, QueueItem>();
  private taskCounter = 0;
  private wake: (() => void) | null = null;
  readonly history = new Map<string, HistoryEntry>();

  constructor(
    private readonly onUpdate: () => void,
    private readonly maxHistory = 10000,
  ) {}

  put(item: QueueItem): void {
    this.heap.push(item);
    siftDown(this.heap, 0, this.heap.length - 1);
    this.onUpdate();
    this.wake?.();
  }

  /** Waits for the next item (no polling), marks it running. */
  async get(): Promise<[QueueItem, number]> {
    while (this.heap.length === 0) await new Promise<void>((r) => (this.wake = r));
    this.wake = null;
    const last = this.heap.pop()!;
    let item = last;
    if (this.heap.length) {
      item = this.heap[0]!;
      this.heap[0] = last;
      siftUp(this.heap, 0);
    }
    const id = this.taskCounter++;
    this.running.set(id, item);
    this.onUpdate();
    return [item, id];
  }

  taskDone(id: number, result: { outputs: Record<string, unknown>; meta: Record<string, unknown> }, status: HistoryStatus): void {
    const item = this.running.get(id);
    this.running.delete(id);
    if (item) {
      if (this.history.size > this.maxHistory) this.history.delete(this.history.keys().next().value as string);
      this.history.set(item[1], { prompt: item, outputs: result.outputs, status, meta: result.meta });
    }
    this.onUpdate();
  }

  current(): { running: QueueItem[]; pending: QueueItem[] } {
    return { running: [...this.running.values()], pending: [...this.heap] };
  }

  remaining(): number {
    return this.heap.length + this.running.size;
  }

  isRunning(promptId: string): boolean {
    return [...this.running.values()].some((i) => i[1] === promptId);
  }

  wipe(): void {
    this.heap = [];
    this.onUpdate();
  }

  /** Deletes the first pending item with that id (re-heapifies like ComfyUI). */
  delete(promptId: string): boolean {
    const i = this.heap.findIndex((x) => x[1] === promptId);
    if (i < 0) return false;
    if (this.heap.length === 1) {
      this.wipe();
      return true;
    }
    this.heap.splice(i, 1);
    for (let j = (this.heap.length >> 1) - 1; j >= 0; j--) siftUp(this.heap, j);
    this.onUpdate();
    return true;
  }

  getHistory(maxItems: number | null, offset: number): Record<string, HistoryEntry> {
    const out: Record<string, HistoryEntry> = {};
    if (offset < 0 && maxItems !== null) offset = this.history.size - maxItems;
    let i = 0;
    for (const [k, v] of this.history) {
      if (i >= offset) {
        out[k] = v;
        if (maxItems !== null && Object.keys(out).length >= maxItems) break;
      }
      i++;
    }
    return out;
  }
}
