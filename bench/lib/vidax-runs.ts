import { readFileSync } from 'node:fs';
import { START_NODE_FLAGS } from './start-flags.ts';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { httpRequest } from './http.ts';
import { ROOT, type RunningServer, startServer } from './proc.ts';
import { createRun, WORKFLOW_FILE } from './runs.ts';
import { watchRun } from './run-watch.ts';
import { authHeaders, BUNDLE, buildBundle } from './servers.ts';

export type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

export const fixtureGraph = (): Graph => JSON.parse(readFileSync(WORKFLOW_FILE, 'utf8')) as Graph;

/** The fixture with its SaveImage prefix moved under `sub/` (fresh per run, like VIDAX's vidax/<run_id>/). */
export function withPrefix(graph: Graph, sub: string): Graph {
  const g = structuredClone(graph);
  for (const node of Object.values(g)) {
    if (typeof node.inputs.filename_prefix === 'string') node.inputs.filename_prefix = `${sub}/${node.inputs.filename_prefix}`;
  }
  return g;
}

/** The production bundle adopting the ComfyUI at `comfyuiUrl` (already running, so VIDAX never spawns one). */
export function startVidaxOn(comfyuiUrl: string, opts: { runsDir: string; logFile: string; name?: string; nodeArgs?: string[] }): Promise<RunningServer> {
  buildBundle();
  return startServer({
    name: opts.name ?? 'VIDAX',
    argv: [...(opts.nodeArgs ?? START_NODE_FLAGS), BUNDLE],
    env: { VIDAX_RUNS_DIR: opts.runsDir, VIDAX_COMFYUI_URL: comfyuiUrl },
    logFile: opts.logFile,
    cwd: ROOT,
  });
}

export interface VidaxRun {
  id: string;
  /** ms from sending POST /jobs/:id/start to the 202. */
  answered: number;
  /** ms from sending the start to manifest.json saying `completed` (seen by inotify). */
  total: number;
  /** First appearance of each event in events.jsonl, ms since the start was sent (`type` or `type:phase`). */
  marks: Record<string, number>;
  lines: { at: number; type: string; event: Record<string, unknown> }[];
  manifestWrites: number;
  polled: boolean;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** Creates a run (untimed), then times POST /jobs/:id/start → manifest.json `completed`. */
export async function timeVidaxRun(server: RunningServer, runsDir: string, body?: string): Promise<VidaxRun> {
  const id = await createRun(server.url, body);
  const watch = watchRun(join(runsDir, id));
  try {
    const t0 = performance.now();
    const reply = await httpRequest(`${server.url}/jobs/${id}/start`, { method: 'POST', headers: authHeaders(), agent });
    const answered = performance.now() - t0;
    if (reply.status !== 202) throw new Error(`POST /jobs/${id}/start answered ${reply.status}: ${reply.body.slice(0, 300)}`);
    const end = await watch.ended;
    if (end.status !== 'completed') throw new Error(`run ${id} ended ${end.status}: see ${join(runsDir, id)}`);
    const marks: Record<string, number> = {};
    for (const line of watch.lines) {
      if (line.at < t0) continue;
      const phase = line.event.phase;
      const key = typeof phase === 'string' ? `${line.type}:${phase}` : line.type;
      marks[key] ??= line.at - t0;
    }
    const lines = watch.lines.map((l) => ({ at: l.at, type: l.type, event: l.event }));
    return { id, answered, total: end.at - t0, marks, lines, manifestWrites: watch.manifestWrites(), polled: end.polled };
  } finally {
    watch.close();
  }
}

export const closeVidaxAgent = () => agent.destroy();
