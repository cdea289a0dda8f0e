/** A ComfyUI API-format graph: node id → node. */
export type Workflow = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: unknown }>;

export interface ParamOverride {
  node: string;
  input: string;
  value?: unknown;
  /** Names one of the run's inputs: the node input gets the name ComfyUI gave its upload. */
  input_file?: string | undefined;
}

/** The run-scoped folder, inside ComfyUI's output folder, that holds every output of one run. */
export const runSubfolder = (runId: string) => `vidax/${runId}`;

/**
 * Builds the exact graph that will be sent: a copy of the workflow with `params` applied (an
 * `input_file` param takes the input's name in ComfyUI from `uploaded`) and
 * every `filename_prefix` moved under `vidax/<run_id>/`, so concurrent runs never mix outputs.
 * The job schema has already refused unknown nodes/inputs and escaping prefixes.
 */
export function prepareWorkflow(
  workflow: Workflow,
  params: readonly ParamOverride[],
  runId: string,
  uploaded: Readonly<Record<string, string>> = {},
  opts: { inPlace?: boolean } = {},
): Workflow {
  // In place when the caller owns `workflow` (just parsed): a large graph is not cloned.
  const graph = opts.inPlace ? workflow : structuredClone(workflow);
  for (const { node, input, value, input_file } of params) {
    const target = graph[node];
    if (!target) continue;
    if (input_file === undefined) target.inputs[input] = structuredClone(value);
    else if (Object.hasOwn(uploaded, input_file)) target.inputs[input] = uploaded[input_file];
    else throw new Error(`input "${input_file}" was not uploaded to ComfyUI`);
  }
  for (const node of Object.values(graph)) {
    const prefix = node.inputs.filename_prefix;
    if (typeof prefix === 'string') node.inputs.filename_prefix = `${runSubfolder(runId)}/${prefix}`;
  }
  return graph;
}
