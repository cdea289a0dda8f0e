import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ComfyUIClient } from '../../lib/comfyui/client.ts';
import { ComfyUIError } from '../../lib/comfyui/errors.ts';
import type { HistoryEntry, QueueItem, SubmitInput } from '../../lib/comfyui/types.ts';

/** Where a prompt is, as the fake ComfyUI has it. `gone`: neither queued nor in history (lost). */
export type FakePromptState = 'pending' | 'running' | 'done' | 'gone';

export interface FakePrompt {
  input: SubmitInput;
  number: number;
  state: FakePromptState;
  entry: HistoryEntry | null;
}

/**
 * A ComfyUI client with ComfyUI in memory: prompts are submitted `pending`, and the test moves
 * them (`run`, `succeed`, `fail`, `interrupt`, `lose`) or makes ComfyUI `unreachable`. Every
 * call is recorded in `calls`. Outputs download as a few bytes named after the file.
 */
export class FakeComfyUIClient implements ComfyUIClient {
  readonly url = 'http://comfyui.fake:8188';
  readonly prompts = new Map<string, FakePrompt>();
  readonly calls: { method: string; args: unknown[] }[] = [];
  /** Every call rejects COMFYUI_UNREACHABLE while set. */
  unreachable = false;
  /** The next submit rejects with this (then it is cleared). */
  submitError: Error | null = null;
  /** When set, submit answers only once it resolves (the prompt is already in ComfyUI). */
  submitGate: Promise<void> | null = null;
  private number = 0;

  private enter(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.unreachable) throw new ComfyUIError('COMFYUI_UNREACHABLE', `ComfyUI is unreachable at ${this.url} (${method}: ECONNREFUSED)`, { details: { reason: 'ECONNREFUSED' } });
  }

  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  private prompt(id: string): FakePrompt {
    const p = this.prompts.get(id);
    if (!p) throw new Error(`fake ComfyUI: no prompt ${id}`);
    return p;
  }

  // The test's side: move a prompt along.
  run(id: string): void {
    this.prompt(id).state = 'running';
  }
  succeed(id: string, outputs: HistoryEntry['outputs'] = {}): void {
    this.finish(id, outputs, { status_str: 'success', completed: true, messages: [['execution_success', { prompt_id: id }]] });
  }
  fail(id: string, node = '2', type = 'SaveImage', message = 'boom'): void {
    this.finish(id, {}, {
      status_str: 'error',
      completed: false,
      messages: [['execution_error', { prompt_id: id, node_id: node, node_type: type, exception_type: 'Exception', exception_message: message }]],
    });
  }
  interruptedByOthers(id: string): void {
    this.finish(id, {}, { status_str: 'error', completed: false, messages: [['execution_interrupted', { prompt_id: id, node_id: '1', node_type: 'X' }]] });
  }
  lose(id: string): void {
    const p = this.prompt(id);
    p.state = 'gone';
    p.entry = null;
  }
  /** A prompt ComfyUI already has (e.g. submitted by a previous VIDAX process). */
  adopt(id: string, state: FakePromptState = 'running'): void {
    this.prompts.set(id, { input: { prompt: {}, promptId: id }, number: ++this.number, state, entry: null });
  }
  private finish(id: string, outputs: HistoryEntry['outputs'], status: NonNullable<HistoryEntry['status']>): void {
    const p = this.prompt(id);
    p.state = 'done';
    p.entry = { prompt: [p.number, id, p.input.prompt, {}, []], outputs, status };
  }

  // ComfyUIClient.
  async systemStats() {
    this.enter('systemStats');
    return { system: { comfyui_version: 'fake' }, devices: [] };
  }
  async submit(sent: SubmitInput) {
    // The runner sends a graph as its JSON bytes; the fake keeps it as the graph.
    const input = sent.prompt instanceof Uint8Array ? { ...sent, prompt: JSON.parse(Buffer.from(sent.prompt).toString('utf8')) } : sent;
    this.enter('submit', input);
    const err = this.submitError;
    if (err) {
      this.submitError = null;
      throw err;
    }
    const number = ++this.number;
    this.prompts.set(input.promptId, { input, number, state: 'pending', entry: null });
    if (this.submitGate) await this.submitGate; // ComfyUI runs it before its answer reaches VIDAX
    return { prompt_id: input.promptId, number, node_errors: {} };
  }
  async history(promptId: string) {
    this.enter('history', promptId);
    return this.prompts.get(promptId)?.entry ?? null;
  }
  async queue() {
    this.enter('queue');
    const item = (id: string, p: FakePrompt): QueueItem => ({ number: p.number, prompt_id: id, client_id: p.input.clientId ?? null, outputs_to_execute: [] });
    const of = (state: FakePromptState) => [...this.prompts].filter(([, p]) => p.state === state).map(([id, p]) => item(id, p));
    return { running: of('running'), pending: of('pending').sort((a, b) => a.number - b.number) };
  }
  async interrupt(promptId: string) {
    this.enter('interrupt', promptId);
    const p = this.prompts.get(promptId);
    if (p?.state === 'running') this.interruptedByOthers(promptId);
  }
  async deleteQueued(promptIds: readonly string[]) {
    this.enter('deleteQueued', promptIds);
    for (const id of promptIds) if (this.prompts.get(id)?.state === 'pending') this.prompts.delete(id);
  }
  async download(file: { filename: string; subfolder: string; type: string }, destPath: string) {
    this.enter('download', file, destPath);
    const data = Buffer.from(`fake ${file.type}/${file.subfolder}/${file.filename}`);
    await mkdir(dirname(destPath), { recursive: true });
    await writeFile(destPath, data);
    return { path: destPath, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }
  async upload(filePath: string) {
    this.enter('upload', filePath);
    return { name: filePath.split('/').pop() ?? '', subfolder: '', type: 'input' };
  }
  async close() {}
}
