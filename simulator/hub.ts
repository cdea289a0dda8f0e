// The open WebSockets by client id: targeted sends reach only the socket registered at send time.
import type { WsConnection } from './ws.ts';

export class Hub {
  readonly sockets = new Map<string, WsConnection>();

  /** sid null = broadcast to every open socket; an sid with no socket = dropped (no buffering). */
  send(type: string, data: unknown, sid: string | null): void {
    const text = JSON.stringify({ type, data });
    if (sid === null) {
      for (const ws of this.sockets.values()) ws.send(text);
    } else {
      this.sockets.get(sid)?.send(text);
    }
  }

  closeAll(): void {
    for (const ws of this.sockets.values()) ws.close(1001);
    this.sockets.clear();
  }
}
