// A stored job (job.json) as the runner needs it: its summary, and the exact graph sent to
// ComfyUI as compact JSON bytes. Pure functions of the bytes: run inline for a small job and on
// the parser thread (lib/jobs/job-worker.ts) for a large one, so the event loop never parses,
// clones or serialises a large workflow.
import { prepareWorkflow, type Workflow } from '../runner/prepare.ts';
import type { Job } from './schema.ts';
import type { JobSummary } from './job-parser.ts';

/** What a start needs of a stored job: its summary and, unless inputs come first, the graph. */
export interface PreparedJob {
  job: JobSummary;
  /** workflow.json's text (the graph sent, `\n`-terminated), or null when inputs must be fetched/uploaded first. */
  graph: Uint8Array | null;
}

/** Inputs fetched from URLs or params naming uploaded inputs: the graph waits for them. */
export const needsInputs = (job: JobSummary) =>
  Object.values(job.inputs ?? {}).some((s) => typeof s.url === 'string') || (job.params ?? []).some((p) => p.input_file !== undefined);

const parseStored = (bytes: Uint8Array): Job => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Job;

/** job.json bytes → the job without its workflow. */
export function summaryOf(bytes: Uint8Array): JobSummary {
  const { workflow: _wf, ...job } = parseStored(bytes);
  return job;
}

/**
 * job.json bytes → the summary and workflow.json's bytes: the workflow with its params applied
 * and its prefixes scoped to the run (`prepareWorkflow`). `uploaded` null: when the job has
 * inputs, no graph yet. A TextEncoder buffer of its own, so it can move between threads.
 */
export function prepareStored(bytes: Uint8Array, runId: string, uploaded: Readonly<Record<string, string>> | null): PreparedJob {
  const { workflow, ...job } = parseStored(bytes);
  if (uploaded === null && needsInputs(job)) return { job, graph: null };
  // The parsed workflow is this call's own: patched in place (no clone).
  const graph = prepareWorkflow(workflow as Workflow, job.params ?? [], runId, uploaded ?? {}, { inPlace: true });
  return { job, graph: new TextEncoder().encode(`${JSON.stringify(graph)}\n`) };
}
