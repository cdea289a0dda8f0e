import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { stream } from '../lib/http/respond.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { TextSchema } from '../lib/api/schemas.ts';

export interface GetLogsContext extends FunctionContext {
  readonly runs: Pick<RunStore, 'openFile'>;
}

/**
 * GET /jobs/:id/logs: logs/events.jsonl (one JSON event per line), streamed from disk up to its
 * size when opened. A reader must tolerate a torn last line after a crash.
 */
export default defineFunction<GetLogsContext>({
  method: 'GET',
  path: '/jobs/:id/logs',
  summary: "The run's event log (logs/events.jsonl), streamed from disk",
  description: 'One JSON event {ts, seq, type, …} per line; a reader must skip a torn last line.',
  tags: ['jobs'],
  params: { id: { description: 'the run id, as POST /jobs answered it' } },
  responses: { 200: { description: 'the events, one JSON object per line', schema: TextSchema, contentType: 'text/plain; charset=utf-8' } },
  errors: ['run_not_found', 'logs_not_found'],
  handler: async ({ ctx, params }) => {
    const file = await ctx.runs.openFile(params.id ?? '', 'events');
    return stream(file.body, 'text/plain; charset=utf-8', { 'content-length': String(file.size) });
  },
});
