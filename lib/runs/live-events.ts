/**
 * Live events of runs for GET /jobs/:id/events. All watchers of one run share one hub: one read
 * of `logs/events.jsonl` when the first watcher comes, then the store's appends as they land
 * (the store is the only writer). A watcher gets the events after the seq it names, then every
 * new one, exactly once and in order; the hub goes away with its last watcher.
 */
import { isTerminal } from './manifest.ts';
import type { RunEvent, RunStore } from './store.ts';

/** One event as the stream sends it: `text` is its `events.jsonl` line. */
export interface LiveEvent {
  seq: number;
  type: string;
  text: string;
}

export interface Watcher {
  /** One event (`replay`: part of the catch-up); return false to leave (too slow, or gone). */
  send(event: LiveEvent, replay: boolean): boolean;
  /** The run ended (its `run.completed` / `run.failed` was sent), or the hub is closing. */
  end(): void;
}

export interface Joined {
  /** The last seq in the log when the watcher joined. */
  lastSeq: number;
  /** The run had already ended: everything it will ever log was replayed. */
  ended: boolean;
  leave(): void;
}

export interface LiveEvents {
  readonly heartbeatMs: number;
  readonly maxQueuedBytes: number;
  /**
   * Checks `after` against the log first (`check` may throw, e.g. a future seq), then replays
   * the events after `after` to `watcher` and follows the run. Throws 404 for an unknown run.
   */
  watch(id: string, after: number, watcher: Watcher, check?: (lastSeq: number, ended: boolean) => void): Promise<Joined>;
  /** Ends every watcher (shutdown). */
  closeAll(): void;
  /** Hubs and watchers (tests). */
  stats(): { hubs: number; watchers: number };
}

const END_TYPES = new Set(['run.completed', 'run.failed']);

interface Hub {
  events: LiveEvent[];
  lastSeq: number;
  ended: boolean;
  watchers: Set<Watcher>;
  /** Watchers joining (waiting for the first read); the hub stays while any. */
  joining: number;
  ready: Promise<void>;
  unsubscribe(): void;
}

const toLive = (e: RunEvent): LiveEvent => ({ seq: e.seq, type: e.type, text: JSON.stringify(e) });

export interface LiveEventsOptions {
  /** A comment line this often on every stream (default 15 000). */
  heartbeatMs?: number;
  /** A watcher with more than this many bytes of live events unsent is cut off (default 1 MiB). */
  maxQueuedBytes?: number;
}

export function createLiveEvents(
  runs: Pick<RunStore, 'get' | 'readEvents' | 'watchEvents'>,
  { heartbeatMs = 15_000, maxQueuedBytes = 1024 * 1024 }: LiveEventsOptions = {},
): LiveEvents {
  const hubs = new Map<string, Hub>();

  function dispatch(hub: Hub, event: LiveEvent) {
    if (event.seq <= hub.lastSeq) return; // already read from the file
    hub.events.push(event);
    hub.lastSeq = event.seq;
    for (const w of hub.watchers) if (!w.send(event, false)) hub.watchers.delete(w);
    if (END_TYPES.has(event.type)) {
      hub.ended = true;
      for (const w of hub.watchers) w.end();
      hub.watchers.clear();
    }
  }

  function open(id: string): Hub {
    const early: LiveEvent[] = [];
    let loaded = false;
    const hub: Hub = {
      events: [],
      lastSeq: 0,
      ended: false,
      watchers: new Set(),
      joining: 0,
      ready: Promise.resolve(),
      unsubscribe: () => {},
    };
    // Listen first, read second: an append that lands during the read is kept, not lost.
    hub.unsubscribe = runs.watchEvents(id, (e) => (loaded ? dispatch(hub, toLive(e)) : early.push(toLive(e))));
    hub.ready = (async () => {
      const m = await runs.get(id);
      const logged = await runs.readEvents(id).catch(() => [] as RunEvent[]);
      for (const e of logged) {
        if (typeof e.seq !== 'number' || e.seq <= hub.lastSeq) continue;
        hub.events.push(toLive(e));
        hub.lastSeq = e.seq;
        if (END_TYPES.has(e.type)) hub.ended = true;
      }
      if (isTerminal(m.run_status)) hub.ended = true;
      loaded = true;
      for (const e of early) dispatch(hub, e);
    })();
    hubs.set(id, hub);
    return hub;
  }

  function release(id: string, hub: Hub) {
    if (hub.joining > 0 || hub.watchers.size > 0 || hubs.get(id) !== hub) return;
    hub.unsubscribe();
    hubs.delete(id);
  }

  return {
    heartbeatMs,
    maxQueuedBytes,
    async watch(id, after, watcher, check) {
      const hub = hubs.get(id) ?? open(id);
      hub.joining++;
      try {
        await hub.ready;
      } catch (err) {
        if (hubs.get(id) === hub) hubs.delete(id); // e.g. 404: the next watcher tries again
        hub.unsubscribe();
        throw err;
      } finally {
        hub.joining--;
      }
      try {
        check?.(hub.lastSeq, hub.ended);
      } catch (err) {
        release(id, hub);
        throw err;
      }
      // Replay and join in one synchronous step: no event can fall between the two.
      let staying = true;
      for (const e of hub.events) {
        if (e.seq > after && !watcher.send(e, true)) {
          staying = false;
          break;
        }
      }
      const joined = { lastSeq: hub.lastSeq, ended: hub.ended };
      if (staying && !hub.ended) hub.watchers.add(watcher);
      else release(id, hub);
      return {
        ...joined,
        leave() {
          hub.watchers.delete(watcher);
          release(id, hub);
        },
      };
    },
    closeAll() {
      for (const [id, hub] of hubs) {
        for (const w of hub.watchers) w.end();
        hub.watchers.clear();
        release(id, hub);
      }
    },
    stats() {
      let watchers = 0;
      for (const hub of hubs.values()) watchers += hub.watchers.size;
      return { hubs: hubs.size, watchers };
    },
  };
}
