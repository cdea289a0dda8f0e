import type { WebhooksConfig } from '../config.ts';
import { webhooksDisabled, webhookUrlNotAllowed } from '../errors.ts';
import { errorFields, type Logger } from '../logger.ts';
import { OutboundError } from '../net/url-guard.ts';
import type { RunEvent } from '../runs/event-log.ts';
import { Lru } from '../runs/lru.ts';
import { isTerminal } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';
import { nextAttemptAt } from './backoff.ts';
import { isRunEnd, messageId, payloadOf, type WebhookSpec, wants } from './events.ts';
import { createOutbox, type Delivery, manifestEntry, type Outbox } from './outbox.ts';
import { secretKey, signedHeaders } from './signature.ts';
import type { WebhookTransport } from './transport.ts';

export interface WebhooksDeps {
  config: WebhooksConfig;
  /** The run store as built (its own create and appendEvent). */
  runs: RunStore;
  transport: WebhookTransport;
  log: Logger;
  version: string;
  now?: () => number;
  random?: () => number;
  /** A run's job without its workflow (off the event loop when large); default: the store's readJob. */
  readJobSummary?: (id: string) => Promise<{ webhook?: WebhookSpec | undefined }>;
}

export interface Webhooks {
  /**
   * The run store with webhooks attached: `create` refuses a job whose webhook cannot be
   * accepted (400, nothing written) and `appendEvent` records a delivery for each event the
   * run's webhook wants, durably, before it returns.
   */
  readonly runs: RunStore;
  /** At start-up: sends what a previous process left pending, and records deliveries of events it logged but never recorded. */
  start(): Promise<void>;
  /** Stops sending; pending deliveries stay recorded and go out after the next start. */
  close(): Promise<void>;
}

interface RunState {
  id: string;
  workdir: string;
  spec: WebhookSpec;
  deliveries: Map<string, Delivery>;
  chain: Promise<unknown>;
  ended: boolean;
  sync: Promise<unknown> | null;
  resync: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function createWebhooks(deps: WebhooksDeps): Webhooks {
  const { config, runs: base, transport, log, version } = deps;
  const now = deps.now ?? Date.now;
  const key = config.secret === undefined ? null : secretKey(config.secret);
  const outbox: Outbox = createOutbox(base.runsDir);
  const specs = new Lru<string, WebhookSpec | null>(1000);
  const states = new Map<string, Promise<RunState | null>>();
  const scheduled = new Set<string>();
  const timers = new Map<string, NodeJS.Timeout>();
  const ready: [RunState, Delivery][] = [];
  const work = new Set<Promise<unknown>>();
  const stopping = new AbortController();
  let active = 0;
  let started: Promise<void> | null = null;

  const track = <T>(p: Promise<T>): Promise<T> => {
    work.add(p);
    void p.finally(() => work.delete(p)).catch(() => {});
    return p;
  };

  function admit(spec: WebhookSpec | undefined): void {
    if (!spec) return;
    if (!key) throw webhooksDisabled();
    try {
      transport.check(spec.url);
    } catch (err) {
      if (!(err instanceof OutboundError)) throw err;
      throw webhookUrlNotAllowed(err.message);
    }
  }

  async function specOf(id: string): Promise<WebhookSpec | null> {
    const hit = specs.get(id);
    if (hit !== undefined) return hit;
    const job = (await (deps.readJobSummary ?? base.readJob)(id).catch(() => null)) as { webhook?: WebhookSpec } | null;
    const spec = job?.webhook ?? null;
    specs.set(id, spec);
    return spec;
  }

  function stateOf(id: string): Promise<RunState | null> {
    let st = states.get(id);
    if (!st) {
      st = (async () => {
        const spec = await specOf(id);
        if (!spec) return null;
        const workdir = base.paths(id).workdir;
        const list = await outbox.list(workdir);
        return { id, workdir, spec, deliveries: new Map(list.map((d) => [d.id, d])), chain: Promise.resolve(), ended: false, sync: null, resync: false };
      })();
      states.set(id, st);
      st.then((s) => s === null && states.delete(id), () => states.delete(id));
    }
    return st;
  }

  /** Runs `task` after the run's earlier outbox writes (records land in event order). */
  function serial<T>(st: RunState, task: () => Promise<T>): Promise<T> {
    const result = st.chain.then(task);
    st.chain = result.catch(() => {});
    return track(result);
  }

  /** Writes the deliveries' state into the manifest: one write in flight per run, the latest wins. */
  function syncManifest(st: RunState): void {
    if (st.sync) {
      st.resync = true;
      return;
    }
    const entries = [...st.deliveries.values()].sort((a, b) => a.seq - b.seq).map(manifestEntry);
    st.sync = track(
      base
        .update(st.id, (m) => {
          m.webhooks = entries;
        })
        .catch((err) => log.error('webhook state write to manifest failed', { run_id: st.id, ...errorFields(err) }))
        .finally(() => {
          st.sync = null;
          if (st.resync) {
            st.resync = false;
            syncManifest(st);
          } else retireIfDone(st);
        }),
    );
  }

  /** Records the delivery of `event` (once per id), durably, then queues it. */
  async function record(st: RunState, event: RunEvent): Promise<void> {
    const id = messageId(st.id, event.seq);
    if (st.deliveries.has(id)) return;
    const d: Delivery = {
      id,
      run_id: st.id,
      seq: event.seq,
      type: event.type,
      url: st.spec.url,
      body: payloadOf(st.id, event),
      created_at: iso(now()),
      state: 'pending',
      attempts: 0,
      last_status: null,
      last_error: null,
      last_attempt_at: null,
      next_attempt_at: iso(now()),
      delivered_at: null,
      failed_at: null,
    };
    outbox.mark(st.id);
    await outbox.write(st.workdir, d);
    st.deliveries.set(id, d);
    syncManifest(st);
    schedule(st, d);
  }

  function schedule(st: RunState, d: Delivery): void {
    if (d.state !== 'pending' || scheduled.has(d.id) || stopping.signal.aborted || !key) return;
    scheduled.add(d.id);
    const wait = Math.max(0, Date.parse(d.next_attempt_at ?? '') - now() || 0);
    if (wait === 0) {
      ready.push([st, d]);
      pump();
      return;
    }
    const t = setTimeout(() => {
      timers.delete(d.id);
      ready.push([st, d]);
      pump();
    }, wait);
    t.unref();
    timers.set(d.id, t);
  }

  function pump(): void {
    while (active < config.concurrency && ready.length > 0 && !stopping.signal.aborted) {
      const [st, d] = ready.shift() as [RunState, Delivery];
      active += 1;
      track(
        attempt(st, d)
          .catch((err) => {
            // e.g. the disk is full: try again later, not in a loop
            d.next_attempt_at = iso(now() + config.retry.firstDelayMs);
            log.error('webhook attempt failed unexpectedly', { run_id: st.id, webhook_id: d.id, ...errorFields(err) });
          })
          .finally(() => {
            active -= 1;
            scheduled.delete(d.id);
            if (d.state === 'pending') schedule(st, d);
            else retireIfDone(st);
            pump();
          }),
      );
    }
  }

  async function attempt(st: RunState, d: Delivery): Promise<void> {
    if (!key) return;
    const ts = Math.floor(now() / 1000);
    const headers = { 'content-type': 'application/json', 'user-agent': `VIDAX/${version}`, ...signedHeaders(key, d.id, ts, d.body) };
    const outcome = await transport.post(d.url, headers, d.body, stopping.signal);
    if (stopping.signal.aborted) return; // cut short by shutdown: still pending, sent after the restart
    const at = now();
    await serial(st, async () => {
      // The new state goes to disk first; memory (and so the manifest and retirement) follows it.
      const next: Delivery = { ...d, attempts: d.attempts + 1, last_attempt_at: iso(at), last_status: outcome.status, last_error: outcome.error };
      if (outcome.ok) {
        next.state = 'delivered';
        next.delivered_at = iso(at);
        next.next_attempt_at = null;
      } else {
        const again = outcome.permanent ? null : nextAttemptAt(Date.parse(d.created_at), at, next.attempts, config.retry, deps.random);
        next.next_attempt_at = again === null ? null : iso(again);
        if (again === null) {
          next.state = 'failed';
          next.failed_at = iso(at);
        }
      }
      await outbox.write(st.workdir, next);
      Object.assign(d, next);
      syncManifest(st);
    });
    const fields = { run_id: st.id, webhook_id: d.id, type: d.type, attempts: d.attempts, status: d.last_status };
    if (d.state === 'delivered') log.info('webhook delivered', fields);
    else log.warn(d.state === 'failed' ? 'webhook delivery gave up' : 'webhook attempt failed', { ...fields, error: d.last_error, next_attempt_at: d.next_attempt_at });
  }

  /** A run that ended, has nothing pending and its manifest up to date leaves memory and the start-up index. */
  function retireIfDone(st: RunState): void {
    if (!st.ended || st.sync || [...st.deliveries.values()].some((d) => d.state === 'pending')) return;
    outbox.unmark(st.id);
    states.delete(st.id);
  }

  async function onEvent(id: string, event: RunEvent): Promise<void> {
    const spec = await specOf(id);
    if (!spec) return;
    const st = await stateOf(id);
    if (!st) return;
    if (wants(spec, event.type)) await serial(st, () => record(st, event));
    if (isRunEnd(event.type)) {
      st.ended = true;
      retireIfDone(st);
    }
  }

  const runs: RunStore = {
    ...base,
    async create(job, submittedText, inputs, start) {
      admit(job.webhook);
      const run = await base.create(job, submittedText, inputs, start);
      specs.set(run.run_id, job.webhook ?? null); // no job.json read at the run's first event
      if (job.webhook) {
        outbox.mark(run.run_id);
        if (wants(job.webhook, 'run.created')) {
          // The store appended run.created itself: read it back (a fresh, one-line log).
          const [created] = await base.readEvents(run.run_id).catch(() => []);
          if (created) await onEvent(run.run_id, created).catch((err) => log.error('webhook record failed', { run_id: run.run_id, ...errorFields(err) }));
        }
      }
      return run;
    },
    async appendEvent(id, type, fields) {
      const event = await base.appendEvent(id, type, fields);
      // The event is in the log: a failure here is logged, and the next start records it again.
      await onEvent(id, event).catch((err) => log.error('webhook record failed', { run_id: id, type, ...errorFields(err) }));
      return event;
    },
  };

  async function recover(): Promise<void> {
    let pending = 0;
    for (const id of await outbox.marked()) {
      if (stopping.signal.aborted) return;
      const m = await base.get(id).catch(() => null);
      const st = m ? await stateOf(id) : null;
      if (!m || !st) {
        outbox.unmark(id);
        continue;
      }
      // Events logged just before a crash may have no delivery yet: record them now (same ids).
      const events = await base.readEvents(id).catch(() => [] as RunEvent[]);
      await serial(st, async () => {
        for (const event of events) if (wants(st.spec, event.type)) await record(st, event);
      });
      for (const d of st.deliveries.values()) {
        if (d.state !== 'pending') continue;
        pending += 1;
        schedule(st, d);
      }
      st.ended ||= isTerminal(m.run_status);
      retireIfDone(st);
    }
    if (pending > 0) log.info('webhook deliveries resumed', { pending, sending: key !== null });
  }

  return {
    runs,
    start() {
      started ??= track(recover().catch((err) => log.error('webhook recovery failed', errorFields(err))));
      return started;
    },
    async close() {
      stopping.abort();
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      ready.length = 0;
      while (work.size > 0) await Promise.allSettled([...work]);
      await transport.close();
    },
  };
}
