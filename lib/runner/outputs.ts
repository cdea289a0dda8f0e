import { listOutputFiles } from '../comfyui/outputs.ts';
import { type RunError, runError } from '../errors.ts';
import type { HistoryEntry, OutputFile } from '../comfyui/types.ts';

import { createHash } from 'node:crypto';
import { cutUtf8 } from '../files/utf8.ts';

/** No separator or NUL; any length (a long one is shortened, below). */
const SAFE_NAME = /^[^/\\\0]+$/;
/**
 * Most bytes of a name in `outputs/`: file systems allow 255 *bytes* per name, and the temp file
 * a download goes through (`.<name>.<pid>.<n>.tmp`) adds up to ~30.
 */
export const MAX_OUTPUT_NAME_BYTES = 200;

/**
 * A name of at most `max` bytes: itself when it fits; else its start, `~`, 8 hex of its sha256
 * (so two long names that share a start stay apart) and its extension (up to 16 bytes).
 */
export function shortenName(name: string, max = MAX_OUTPUT_NAME_BYTES): string {
  if (Buffer.byteLength(name) <= max) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && Buffer.byteLength(name.slice(dot)) <= 16 ? name.slice(dot) : '';
  const tag = `~${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  const stem = cutUtf8(name.slice(0, name.length - ext.length), max - Buffer.byteLength(tag) - Buffer.byteLength(ext));
  return `${stem}${tag}${ext}`;
}

export interface PlannedOutput {
  node: string;
  key: string;
  file: OutputFile;
  /** File name inside `<workdir>/outputs/`: ComfyUI's own (shortened past 200 bytes), unique within the run. */
  name: string;
  /** ComfyUI's own name, when `name` had to be shortened. */
  original?: string;
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
    const own = shortenName(filename);
    let name = own;
    if (taken.has(name)) name = shortenName(`${type}-${node}-${filename}`);
    for (let i = 2; taken.has(name); i++) name = shortenName(`${i}-${filename}`);
    taken.add(name);
    files.push({ node, key: kind, file: { filename, subfolder, type }, name, ...(own === filename ? {} : { original: filename }) });
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
