// The order ComfyUI runs a prompt's nodes in: its ExecutionList (comfy_execution/graph.py, v0.3.64).
// Nodes are registered depth-first from each output node with a stack (inputs in key order), then
// repeatedly one ready node is picked: an output node first, else one that feeds an output node,
// else one two links before an output node, else the first ready one in registration order.
// (Recorded: LoadAudio runs before LoadImage → ImageScale → RepeatImageBatch in workflow-video.)
import type { Graph } from './validate.ts';

const isLink = (v: unknown): v is [string, number] => Array.isArray(v) && v.length === 2 && typeof v[0] === 'string';

export function executionOrder(prompt: Graph, toExecute: string[], cached: (id: string) => boolean, isOutput: (id: string) => boolean): string[] {
  const pending = new Map<string, true>();
  const blockCount = new Map<string, number>();
  const blocking = new Map<string, Set<string>>();
  const addNode = (start: string): void => {
    const stack = [start];
    const links: [string, string][] = [];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (pending.has(id)) continue;
      pending.set(id, true);
      blockCount.set(id, 0);
      blocking.set(id, new Set());
      for (const v of Object.values(prompt[id]?.inputs ?? {})) {
        if (!isLink(v) || !Object.hasOwn(prompt, v[0])) continue;
        if (!cached(v[0])) stack.push(v[0]);
        links.push([v[0], id]);
      }
    }
    for (const [from, to] of links) {
      if (cached(from)) continue;
      addNode(from);
      const blocks = blocking.get(from)!;
      if (!blocks.has(to)) {
        blocks.add(to);
        blockCount.set(to, (blockCount.get(to) ?? 0) + 1);
      }
    }
  };
  for (const id of toExecute) addNode(id);
  const feeds = (id: string, depth: number): boolean => [...(blocking.get(id) ?? [])].some((b) => (depth === 1 ? isOutput(b) : feeds(b, depth - 1)));
  const order: string[] = [];
  while (pending.size > 0) {
    const ready = [...pending.keys()].filter((id) => blockCount.get(id) === 0);
    if (ready.length === 0) break; // a cycle: validation refuses those first
    const pick = ready.find(isOutput) ?? ready.find((id) => feeds(id, 1)) ?? ready.find((id) => feeds(id, 2)) ?? ready[0]!;
    order.push(pick);
    pending.delete(pick);
    for (const to of blocking.get(pick) ?? []) blockCount.set(to, (blockCount.get(to) ?? 1) - 1);
  }
  return order;
}
