/**
 * Checks of a job that a plain schema cannot express: a bounded, iterative walk of the raw body
 * (depth, reserved and oversized keys, sizes) that runs before anything recursive touches it,
 * and the graph checks (links, `params` targets, safe `filename_prefix`).
 */

export const LIMITS = Object.freeze({
  depth: 64,
  keyLength: 256,
  nodes: 5000,
  params: 1000,
  metadataBytes: 64 * 1024,
  issues: 50,
});

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface PathIssue {
  message: string;
  path: (string | number)[];
}

export const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

interface Frame {
  value: object;
  depth: number;
  key: string | number;
  parent: Frame | null;
}

const pathOf = (frame: Frame | null, key?: string | number): (string | number)[] => {
  const path: (string | number)[] = key === undefined ? [] : [key];
  for (let f = frame; f?.parent; f = f.parent) path.unshift(f.key);
  return path;
};

/** Walks the raw body without recursion; returns at most LIMITS.issues problems. */
export function guardShape(raw: unknown): PathIssue[] {
  const issues: PathIssue[] = [];
  if (isPlainObject(raw)) {
    const wf = raw.workflow;
    if (isPlainObject(wf) && Object.keys(wf).length > LIMITS.nodes) {
      issues.push({ path: ['workflow'], message: `must have at most ${LIMITS.nodes} nodes` });
    }
    if (Array.isArray(raw.params) && raw.params.length > LIMITS.params) {
      issues.push({ path: ['params'], message: `must have at most ${LIMITS.params} entries` });
    }
    if (issues.length > 0) return issues;
  }
  if (typeof raw !== 'object' || raw === null) return issues;
  const stack: Frame[] = [{ value: raw, depth: 1, key: '', parent: null }];
  while (stack.length > 0 && issues.length < LIMITS.issues) {
    const frame = stack.pop() as Frame;
    if (frame.depth > LIMITS.depth) {
      issues.push({ path: pathOf(frame.parent, frame.key), message: `nests deeper than ${LIMITS.depth} levels` });
      continue;
    }
    const entries: [string | number, unknown][] = Array.isArray(frame.value)
      ? frame.value.map((item, i) => [i, item])
      : Object.keys(frame.value).map((k) => [k, (frame.value as Record<string, unknown>)[k]]);
    for (const [key, child] of entries) {
      if (typeof key === 'string') {
        if (RESERVED_KEYS.has(key)) {
          issues.push({ path: pathOf(frame, key), message: `"${key}" is a reserved key and is not allowed` });
          continue;
        }
        if (key.length > LIMITS.keyLength) {
          issues.push({ path: pathOf(frame), message: `has a key longer than ${LIMITS.keyLength} characters` });
          continue;
        }
      }
      if (typeof child === 'object' && child !== null) {
        stack.push({ value: child, depth: frame.depth + 1, key, parent: frame });
      }
    }
  }
  return issues.slice(0, LIMITS.issues);
}

/** A prefix is safe if it is relative and never climbs out of ComfyUI's output folder. */
export function isSafePrefix(prefix: string): boolean {
  if (prefix.includes('\0')) return false;
  if (/^[\\/]/.test(prefix) || /^[A-Za-z]:/.test(prefix)) return false;
  return !prefix.split(/[\\/]/).includes('..');
}

export const UNSAFE_PREFIX =
  'filename_prefix must be a relative path inside ComfyUI\'s output folder (no leading "/" or drive, no "..")';

export const PREFIX_NOT_STRING =
  'filename_prefix must be a plain string (VIDAX puts it under vidax/<run_id>/); a link, number, object or list is refused';

type Graph = Record<string, { inputs: Record<string, unknown> }>;

/** Dangling links, bad output indexes, and prefixes that are unsafe or not plain strings. */
export function checkGraph(workflow: Graph): PathIssue[] {
  const issues: PathIssue[] = [];
  for (const [id, node] of Object.entries(workflow)) {
    for (const [name, value] of Object.entries(node.inputs)) {
      if (issues.length >= LIMITS.issues) return issues;
      if (name === 'filename_prefix') {
        // Checked before links: a link (`["1", 0]`) would hand the save node a prefix VIDAX never sees.
        if (typeof value !== 'string') issues.push({ path: [id, 'inputs', name], message: PREFIX_NOT_STRING });
        else if (!isSafePrefix(value)) issues.push({ path: [id, 'inputs', name], message: UNSAFE_PREFIX });
      } else if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'number') {
        if (!Object.hasOwn(workflow, value[0])) {
          issues.push({ path: [id, 'inputs', name], message: `links to node "${value[0].slice(0, 64)}", which is not in the workflow` });
        } else if (!Number.isInteger(value[1]) || value[1] < 0) {
          issues.push({ path: [id, 'inputs', name], message: 'a link\'s output index must be an integer ≥ 0' });
        }
      }
    }
  }
  return issues;
}

/** Every `params` override must name a node and an input of the workflow. */
export function checkParams(workflow: Graph, params: readonly { node: string; input: string; value?: unknown }[]): PathIssue[] {
  const issues: PathIssue[] = [];
  params.forEach(({ node, input, value }, i) => {
    if (issues.length >= LIMITS.issues) return;
    const target = Object.hasOwn(workflow, node) ? workflow[node] : undefined;
    if (!target) {
      issues.push({ path: ['params', i, 'node'], message: `node "${node.slice(0, 64)}" is not in the workflow` });
    } else if (!Object.hasOwn(target.inputs, input)) {
      issues.push({ path: ['params', i, 'input'], message: `node "${node.slice(0, 64)}" has no input "${input.slice(0, 64)}"` });
    } else if (input === 'filename_prefix' && (typeof value !== 'string' || !isSafePrefix(value))) {
      issues.push({ path: ['params', i, 'value'], message: UNSAFE_PREFIX });
    }
  });
  return issues;
}

/** Size of a value as JSON, or Infinity if it cannot be serialised. */
export function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Every `params` entry with `input_file` must name one of the job's inputs (`names`). */
export function checkInputRefs(params: readonly { input_file?: string | undefined }[], names: ReadonlySet<string>): PathIssue[] {
  const issues: PathIssue[] = [];
  params.forEach(({ input_file }, i) => {
    if (input_file !== undefined && !names.has(input_file) && issues.length < LIMITS.issues) {
      issues.push({ path: ['params', i, 'input_file'], message: `names input "${input_file}", which the job does not have` });
    }
  });
  return issues;
}

/** `phases.encode.audio` and `phases.lipsync.audio.input_file` must name one of the job's inputs. */
export function checkPhaseInputRefs(
  phases: { encode?: { audio?: string | undefined } | undefined; lipsync?: { enabled: boolean; audio?: { input_file: string } | undefined } | undefined } | undefined,
  names: ReadonlySet<string>,
): PathIssue[] {
  const issues: PathIssue[] = [];
  const audio = phases?.encode?.audio;
  if (audio !== undefined && !names.has(audio)) issues.push({ path: ['phases', 'encode', 'audio'], message: `names input "${audio}", which the job does not have` });
  const voice = phases?.lipsync?.enabled ? phases.lipsync.audio?.input_file : undefined;
  if (voice !== undefined && !names.has(voice)) {
    issues.push({ path: ['phases', 'lipsync', 'audio', 'input_file'], message: `names input "${voice}", which the job does not have` });
  }
  return issues;
}

/**
 * An enabled lipsync names its workflow and the two node inputs VIDAX sets (the current video
 * and the audio input), and those must exist in that workflow.
 */
export function checkLipsync(l: {
  enabled: boolean;
  workflow?: Graph | undefined;
  video?: { node: string; input: string } | undefined;
  audio?: { node: string; input: string } | undefined;
}): PathIssue[] {
  if (!l.enabled) return [];
  const issues: PathIssue[] = [];
  if (!l.workflow) issues.push({ path: ['workflow'], message: 'is required when lipsync is enabled' });
  for (const key of ['video', 'audio'] as const) {
    const ref = l[key];
    if (!ref) {
      issues.push({ path: [key], message: 'is required when lipsync is enabled' });
      continue;
    }
    if (!l.workflow) continue;
    const node = Object.hasOwn(l.workflow, ref.node) ? l.workflow[ref.node] : undefined;
    if (!node) issues.push({ path: [key, 'node'], message: `node "${ref.node.slice(0, 64)}" is not in the lipsync workflow` });
    else if (!Object.hasOwn(node.inputs, ref.input)) issues.push({ path: [key, 'input'], message: `node "${ref.node.slice(0, 64)}" has no input "${ref.input.slice(0, 64)}"` });
  }
  return issues;
}
