import type { ComfyUIEvent, ConnectionState, EventStream } from '../../lib/comfyui/events.ts';

/**
 * ComfyUI's WebSocket in memory: `ready()` answers a client id (or rejects while `down`), the
 * test `emit`s messages for a prompt and flips the connection with `drop` / `reconnect`.
 */
export class FakeEventStream implements EventStream {
  clientId: string | null = null;
  /** `ready()` rejects while set, as when the socket cannot connect. */
  down = false;
  private readonly subscribers = new Map<string, Set<(event: ComfyUIEvent) => void>>();
  private readonly listeners = new Set<(state: ConnectionState, clientId: string) => void>();
  private connections = 0;

  async ready(): Promise<string> {
    if (this.down) throw new Error('fake event stream is down');
    this.clientId ??= `fake-client-${++this.connections}`;
    return this.clientId;
  }
  subscribe(promptId: string, listener: (event: ComfyUIEvent) => void): () => void {
    const set = this.subscribers.get(promptId) ?? new Set();
    set.add(listener);
    this.subscribers.set(promptId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.subscribers.delete(promptId);
    };
  }
  onConnectionChange(listener: (state: ConnectionState, clientId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  close(): void {
    this.subscribers.clear();
    this.listeners.clear();
  }

  // The test's side.
  subscribed(promptId: string): boolean {
    return this.subscribers.has(promptId);
  }
  emit(promptId: string, type: string, data: Record<string, unknown> = {}): void {
    for (const listener of this.subscribers.get(promptId) ?? []) listener({ type, data: { prompt_id: promptId, ...data } });
  }
  drop(): void {
    const id = this.clientId ?? '';
    this.clientId = null;
    for (const l of this.listeners) l('lost', id);
  }
  reconnect(): void {
    this.clientId = `fake-client-${++this.connections}`;
    for (const l of this.listeners) l('open', this.clientId);
  }
}
