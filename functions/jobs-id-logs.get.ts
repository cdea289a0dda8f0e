import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { stream } from '../lib/http/respond.ts';
import type { RunStore } from '../lib/runs/store.ts';

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
  handler: async ({ ctx, params }) => {
    const file = await ctx.runs.openFile(params.id ?? '', 'events');
    return stream(file.body, 'text/plain; charset=utf-8', { 'content-length': String(file.size) });
  },
});
