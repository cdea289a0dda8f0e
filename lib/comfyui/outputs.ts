import type { HistoryEntry, OutputFile } from './types.ts';

export interface NodeOutputFile extends OutputFile {
  /** The output node that produced it. */
  node: string;
  /** The outputs key it was listed under (`images`, `audio`, `gifs`, …). */
  kind: string;
}

const isFile = (x: unknown): x is OutputFile =>
  typeof x === 'object' && x !== null && typeof (x as OutputFile).filename === 'string';

/**
 * Every file of a history entry's outputs: all nodes, all keys (`images`, `audio`, custom ones),
 * each with its own `subfolder` and `type`. Non-file values (`text`, `animated`) are skipped.
 */
export function listOutputFiles(entry: Pick<HistoryEntry, 'outputs'>): NodeOutputFile[] {
  const files: NodeOutputFile[] = [];
  for (const [node, output] of Object.entries(entry.outputs ?? {})) {
    for (const [kind, value] of Object.entries(output ?? {})) {
      if (!Array.isArray(value)) continue;
      for (const item of value) {
        if (!isFile(item)) continue;
        files.push({ node, kind, filename: item.filename, subfolder: item.subfolder ?? '', type: item.type ?? 'output' });
      }
    }
  }
  return files;
}
