import * as v from 'valibot';
import { RunSummarySchema } from '../lib/api/schemas.ts';
import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import { cursorAfter, DEFAULT_LIMIT, MAX_LIMIT, parseListQuery } from '../lib/runs/list-query.ts';
import type { RunStore } from '../lib/runs/store.ts';
import { runSummary } from '../lib/runs/summary.ts';

export interface ListJobsContext extends FunctionContext {
  readonly runs: Pick<RunStore, 'listRuns' | 'paths'>;
}

const ListSchema = v.object({
  items: v.array(RunSummarySchema),
  next_cursor: v.pipe(v.nullable(v.string()), v.description('pass as ?cursor= for the next (older) page; null on the last page')),
});

/** GET /jobs: runs newest first, each the summary GET /jobs/:id answers, from the in-memory index. */
export default defineFunction<ListJobsContext>({
  method: 'GET',
  path: '/jobs',
  summary: 'Runs, newest first',
  description: 'Served from an index kept in memory (never a scan of the runs directory). Page with next_cursor.',
  tags: ['jobs'],
  query: {
    status: { description: 'only runs in this state', schema: v.picklist(['queued', 'running', 'completed', 'failed']) },
    limit: { description: `runs per page, 1..${MAX_LIMIT} (default ${DEFAULT_LIMIT})`, schema: v.pipe(v.string(), v.regex(/^\d+$/)) },
    cursor: { description: 'next_cursor of the previous page, as is' },
  },
  responses: { 200: { description: 'a page of runs', schema: ListSchema } },
  errors: ['invalid_query'],
  handler: async ({ ctx, request }) => {
    const url = request.url;
    const query = parseListQuery(url.includes('?') ? new URL(url).searchParams : new URLSearchParams());
    const { runs, more } = await ctx.runs.listRuns(query);
    const last = runs.at(-1);
    return json({
      items: runs.map((m) => runSummary(m, ctx.runs.paths(m.run_id).manifest)),
      next_cursor: more && last ? cursorAfter(last.run_id) : null,
    });
  },
});
