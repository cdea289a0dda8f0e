// Runs one prompt like ComfyUI's PromptExecutor: signature cache, §4 event order, errors and interrupts.
import { createHash } from 'node:crypto';
import type { SimOptions } from './args.ts';
import type { Hub } from './hub.ts';
import { type NodeContext, NodeError, nodeDef } from './nodes.ts';
import { executionOrder } from './order.ts';
import type { HistoryStatus, QueueItem } from './queue.ts';
import type { Graph } from './validate.ts';

class Interrupted extends Error {}

interface CacheEntry {
  outputs: unknown[];
  ui: Record<string, unknown[]> | null;
}
export interface ExecResult {
  status: HistoryStatus;
  outputs: Record<string, unknown>;
  meta: Record<string, unknown>;
}

const isLink = (v: unknown): v is [string, number] => Array.isArray(v) && v.length === 2 && typeof v[0] === 'string';

/**
 * Cache keys: class + constant inputs + the keys of linked ancestors (node ids do not matter).
 * Each key is a hash, so a long chain of nodes keeps keys short (nesting the JSON text of
 * ancestors doubled its escapes at each link: a 40-node chain overflowed the string length).
 */
function signatures(prompt: Graph): Map<string, string> {
  const sigs = new Map<string, string>();
  const sig = (id: string, seen: Set<string>): string => {
    const known = sigs.get(id);
    if (known) return known;
    if (seen.has(id)) return `cycle:${id}`;
    seen.add(id);
    const node = prompt[id]!;
    const inputs = Object.entries(node.inputs ?? {})
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [k, isLink(v) && Object.hasOwn(prompt, v[0]) ? { link: sig(v[0], seen), slot: v[1] } : v]);
    const s = createHash('sha256').update(JSON.stringify([node.class_type, inputs])).digest('hex');
    sigs.set(id, s);
    return s;
  };
  for (const id of Object.keys(prompt)) sig(id, new Set());
  return sigs;
}

const describe = (v: unknown): unknown => {
  if (v === null || v === undefined || ['string', 'number', 'boolean'].includes(typeof v)) return v ?? null;
  if (Array.isArray(v) && v.every((f) => f && typeof f === 'object' && 'rgb' in f)) {
    const f = v[0] as { width: number; height: number } | undefined;
    return `tensor(shape=[${v.length}, ${f?.height ?? 0}, ${f?.width ?? 0}, 3])`;
  }
  return JSON.stringify(v, (k, x) => (k === 'rgb' ? '…' : x));
};

export class Executor {
  private cache = new Map<string, CacheEntry>();
  private interruptRequested = false;
  clientId: string | null = null;
  lastNodeId: string | null = null;

  constructor(
    private readonly hub: Hub,
    private readonly opts: SimOptions,
  ) {}

  interrupt(): void {
    this.interruptRequested = true;
  }

  clearCache(): void {
    this.cache.clear();
  }

  async execute(item: QueueItem): Promise<ExecResult> {
    const [, promptId, prompt, extra, toExecute] = item;
    this.interruptRequested = false;
    const cid = typeof extra.client_id === 'string' ? extra.client_id : null;
    this.clientId = cid;
    const messages: HistoryStatus['messages'] = [];
    const add = (event: string, data: Record<string, unknown>, broadcast: boolean) => {
      const d = { ...data, timestamp: Date.now() };
      messages.push([event, d]);
      if (cid !== null || broadcast) this.hub.send(event, d, cid);
    };
    const toC = (type: string, data: unknown) => {
      if (cid !== null) this.hub.send(type, data, cid);
    };
    add('execution_start', { prompt_id: promptId }, false);
    const sigs = signatures(prompt);
    const live = new Set(sigs.values());
    for (const key of this.cache.keys()) if (this.opts.cacheNone || !live.has(key)) this.cache.delete(key);
    const cachedIds = Object.keys(prompt).filter((id) => this.cache.has(sigs.get(id)!));
    add('execution_cached', { nodes: cachedIds, prompt_id: promptId }, false);

    const order = executionOrder(prompt, toExecute, (id) => this.cache.has(sigs.get(id)!), (id) => nodeDef(prompt[id]?.class_type)?.info.output_node === true);

    const states = new Map<string, { value: number; max: number; state: string }>();
    const sendState = () => {
      const nodes: Record<string, unknown> = {};
      for (const [id, s] of states) nodes[id] = { ...s, node_id: id, prompt_id: promptId, display_node_id: id, parent_node_id: null, real_node_id: id };
      this.hub.send('progress_state', { prompt_id: promptId, nodes }, cid);
    };
    const values = new Map<string, unknown[]>();
    const executed: string[] = [];
    const outputs: Record<string, unknown> = {};
    const meta: Record<string, unknown> = {};
    const record = (id: string, ui: CacheEntry['ui']) => {
      toC('executed', { node: id, display_node: id, output: ui, prompt_id: promptId });
      if (ui) {
        outputs[id] = ui;
        meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
      }
    };
    let current = '';
    let currentInputs: Record<string, unknown> = {};
    let ok = false;
    try {
      for (const id of order) {
        current = id;
        currentInputs = {};
        const node = prompt[id]!;
        const def = nodeDef(node.class_type)!;
        const hit = this.cache.get(sigs.get(id)!);
        if (hit) {
          values.set(id, hit.outputs);
          record(id, hit.ui);
          states.set(id, { value: 1, max: 1, state: 'finished' });
          sendState();
          executed.push(id);
          continue;
        }
        states.set(id, { value: 0, max: 1, state: 'running' });
        sendState();
        this.lastNodeId = id;
        toC('executing', { node: id, display_node: id, prompt_id: promptId });
        for (const [k, v] of Object.entries(node.inputs ?? {})) {
          currentInputs[k] = isLink(v) ? (values.get(v[0]) ?? this.cache.get(sigs.get(v[0])!)?.outputs)?.[v[1]] : v;
        }
        if (def.info.input.hidden) Object.assign(currentInputs, { prompt, extra_pnginfo: extra.extra_pnginfo ?? null });
        if (this.interruptRequested) throw new Interrupted();
        if (this.opts.failNode === node.class_type) {
          throw new NodeError(`Simulated failure of ${node.class_type} (--fail-node)`, 'RuntimeError', [
            `  File "/opt/ComfyUI/execution.py", line 277, in process_inputs\n    result = f(**inputs)\n`,
          ]);
        }
        const ctx: NodeContext = {
          promptId,
          nodeId: id,
          outputDir: this.opts.outputDir,
          tempDir: this.opts.tempDir,
          inputDir: this.opts.inputDir,
          disableMetadata: this.opts.disableMetadata,
          checkInterrupt: () => {
            if (this.interruptRequested) throw new Interrupted();
          },
          progress: (value, max) => {
            states.set(id, { value, max, state: 'running' });
            sendState();
            this.hub.send('progress', { value, max, prompt_id: promptId, node: id }, cid);
          },
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        };
        const result = await def.run(currentInputs, ctx);
        values.set(id, result.outputs);
        const ui = result.ui ?? null;
        if (!this.opts.cacheNone) this.cache.set(sigs.get(id)!, { outputs: result.outputs, ui });
        if (ui) record(id, ui);
        executed.push(id);
        const max = states.get(id)?.max ?? 1;
        states.set(id, { value: max, max, state: 'finished' });
        sendState();
      }
      add('execution_success', { prompt_id: promptId }, false);
      ok = true;
    } catch (e) {
      const base = { prompt_id: promptId, node_id: current, node_type: String(prompt[current]?.class_type), executed: [...executed].reverse() };
      if (e instanceof Interrupted) {
        add('execution_interrupted', base, true);
      } else {
        const err = e as Error;
        const formatted = Object.fromEntries(Object.entries(currentInputs).map(([k, v]) => [k, [describe(v)]]));
        add('execution_error', {
          ...base,
          exception_message: `${err.message}\n`,
          exception_type: e instanceof NodeError ? e.exceptionType : err.name,
          traceback: e instanceof NodeError ? e.traceback : String(err.stack ?? '').split('\n').slice(1).map((l) => `${l}\n`),
          current_inputs: formatted,
          current_outputs: [...Object.keys(prompt)].reverse(),
        }, false);
      }
    }
    this.lastNodeId = null;
    return { status: { status_str: ok ? 'success' : 'error', completed: ok, messages }, outputs, meta };
  }
}
