import { listOutputFiles } from '../comfyui/outputs.ts';
import { type RunError, runError } from '../errors.ts';
import type { HistoryEntry, OutputFile } from '../comfyui/types.ts';

const SAFE_NAME = /^[^/\\\0]{1,255}$/;

export interface PlannedOutput {
  node: string;
  key: string;
  file: OutputFile;
  /** File name inside `<workdir>/outputs/`: ComfyUI's own, made unique within the run. */
  name: string;
}

/**
 * Names every output file of a history entry (see `listOutputFiles`) for `<workdir>/outputs/`.
 * A file name ComfyUI should never send (a separator, `..`) is refused rather than written.
 */
export function planOutputs(entry: HistoryEntry): { files: PlannedOutput[]; refused: string[] } {
  const files: PlannedOutput[] = [];
  const refused: string[] = [];
  const taken = new Set<string>();
  for (const { node, kind, filename, subfolder, type } of listOutputFiles(entry)) {
    if (!SAFE_NAME.test(filename) || filename === '.' || filename === '..') {
      refused.push(filename);
      continue;
    }
    let name = filename;
    if (taken.has(name)) name = `${type}-${node}-${filename}`;
    for (let i = 2; taken.has(name); i++) name = `${i}-${filename}`;
    taken.add(name);
    files.push({ node, key: kind, file: { filename, subfolder, type }, name });
  }
  return { files, refused };
}

/** Tells success, an execution error and an interrupt apart (history says `error` for both). */
export function classify(entry: HistoryEntry): RunError | null {
  if (entry.status?.status_str === 'success') return null;
  const messages = entry.status?.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const [type, data] = messages[i] ?? ['', {}];
    if (type === 'execution_error') {
      return runError(
        'COMFYUI_EXECUTION_ERROR',
        `node ${String(data.node_id)} (${String(data.node_type)}) failed: ${String(data.exception_message ?? '').trim()}`,
        {
          node_id: data.node_id,
          node_type: data.node_type,
          exception_type: data.exception_type,
          exception_message: data.exception_message,
        },
      );
    }
    if (type === 'execution_interrupted') {
      return runError('COMFYUI_INTERRUPTED', `the prompt was interrupted at node ${String(data.node_id)} (${String(data.node_type)})`, {
        node_id: data.node_id,
        node_type: data.node_type,
      });
    }
  }
  if (entry.status === null || entry.status === undefined) {
    return runError('COMFYUI_EXECUTION_ERROR', 'ComfyUI recorded no status for the prompt');
  }
  return runError('COMFYUI_EXECUTION_ERROR', `ComfyUI ended the prompt with status ${entry.status.status_str}`);
}
