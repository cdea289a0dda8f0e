/**
 * ComfyUI repeats each prompt's whole graph in `/history` and `/queue` items (`prompt[2]` of a
 * history entry, index 2 of a queue item). VIDAX never reads it back, and for a large workflow
 * it is most of the reply: a large reply is parsed off the event loop (lib/jobs/job-worker.ts)
 * and these graphs are dropped (null) before the rest comes back.
 */
export type GraphReply = 'history' | 'queue';

export function dropGraphs(value: unknown, kind: GraphReply): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const blank = (item: unknown) => {
    if (Array.isArray(item) && item.length > 2) item[2] = null;
  };
  if (kind === 'history') {
    for (const entry of Object.values(value)) blank((entry as { prompt?: unknown } | null)?.prompt);
  } else {
    const q = value as { queue_running?: unknown; queue_pending?: unknown };
    for (const list of [q.queue_running, q.queue_pending]) if (Array.isArray(list)) list.forEach(blank);
  }
  return value;
}
