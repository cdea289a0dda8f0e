/** A ComfyUI API-format graph: node id → node. */
export type Workflow = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: unknown }>;

export interface ParamOverride {
  node: string;
  input: string;
  value: unknown;
}

/** The run-scoped folder, inside ComfyUI's output folder, that holds every output of one run. */
export const runSubfolder = (runId: string) => `vidax/${runId}`;

/**
 * Builds the exact graph that will be sent: a copy of the workflow with `params` applied and
 * every `filename_prefix` moved under `vidax/<run_id>/`, so concurrent runs never mix outputs.
 * The job schema has already refused unknown nodes/inputs and escaping prefixes.
 */
export function prepareWorkflow(workflow: Workflow, params: readonly ParamOverride[], runId: string): Workflow {
  const graph = structuredClone(workflow);
  for (const { node, input, value } of params) {
    const target = graph[node];
    if (target) target.inputs[input] = structuredClone(value);
  }
  for (const node of Object.values(graph)) {
    const prefix = node.inputs.filename_prefix;
    if (typeof prefix === 'string') node.inputs.filename_prefix = `${runSubfolder(runId)}/${prefix}`;
  }
  return graph;
}
