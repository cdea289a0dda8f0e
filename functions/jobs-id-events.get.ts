import * as v from 'valibot';
import { TextSchema } from '../lib/api/schemas.ts';
import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { empty, stream } from '../lib/http/respond.ts';
import { createSse, invalidLastEventId, resumeAfter, SEQ } from '../lib/http/sse.ts';
import type { LiveEvents } from '../lib/runs/live-events.ts';

export interface JobEventsContext extends FunctionContext {
  readonly liveEvents: LiveEvents;
}

/**
 * GET /jobs/:id/events: the run's events as Server-Sent Events (`id: <seq>`, `event: <type>`,
 * `data: <events.jsonl line>`): the ones after `Last-Event-ID` / `?after=`, then live ones; ends
 * after `run.completed` / `run.failed`; 204 when the run has ended and nothing is left to send.
 */
export default defineFunction<JobEventsContext>({
  method: 'GET',
  path: '/jobs/:id/events',
  summary: "The run's events as Server-Sent Events: replay, then live, until the run ends",
  description:
    'Each event is `id: <seq>`, `event: <type>`, `data: <its events.jsonl line>`. Resumes after `Last-Event-ID` (or `?after=`), exactly once; a `: keep-alive` comment every 15 s; ends after run.completed / run.failed.',
  tags: ['jobs'],
  params: { id: { description: 'the run id, as POST /jobs answered it' } },
  query: { after: { description: 'resume after this event seq (Last-Event-ID wins when both are sent)', schema: v.pipe(v.string(), v.regex(SEQ)) } },
  headers: { 'Last-Event-ID': { description: 'the seq of the last event the client saw (sent by EventSource on reconnect)', schema: v.pipe(v.string(), v.regex(SEQ)) } },
  responses: {
    200: { description: 'the event stream', schema: TextSchema, contentType: 'text/event-stream; charset=utf-8' },
    204: { description: 'the run has ended and no event is left after Last-Event-ID', schema: TextSchema },
  },
  errors: ['run_not_found', 'manifest_not_found', 'invalid_last_event_id'],
  handler: async ({ ctx, params, request }) => {
    const after = resumeAfter(request);
    const live = ctx.liveEvents;
    let leave: (() => void) | null = null;
    let closed = false;
    const sse = createSse({
      heartbeatMs: live.heartbeatMs,
      maxQueuedBytes: live.maxQueuedBytes,
      retryMs: 1000,
      signal: request.signal,
      onClose: () => {
        closed = true;
        leave?.();
      },
    });
    let sent = 0;
    let joined: Awaited<ReturnType<LiveEvents['watch']>>;
    try {
      joined = await live.watch(
        params.id ?? '',
        after,
        {
          send: (e, replay) => {
            sent++;
            return sse.event(e.seq, e.type, e.text, replay);
          },
          end: () => sse.end(),
        },
        (lastSeq) => {
          if (after > lastSeq) throw invalidLastEventId(`event ${after} does not exist: the run's log ends at ${lastSeq}`, { last_seq: lastSeq });
        },
      );
    } catch (err) {
      sse.end();
      throw err;
    }
    leave = joined.leave;
    if (closed) joined.leave(); // the client went away while the log was read
    if (joined.ended) sse.end();
    if (joined.ended && sent === 0) return empty(204); // tells EventSource to stop reconnecting
    // `connection: close`: a stream ended at shutdown must not leave an idle keep-alive socket behind.
    return stream(sse.stream, 'text/event-stream; charset=utf-8', { 'cache-control': 'no-cache', 'x-accel-buffering': 'no', connection: 'close' });
  },
});
