// POST /prompt validation, ported from ComfyUI's execution.validate_prompt / validate_inputs (same 400 shapes).
import { versionAtLeast } from './args.ts';
import { type InputSpec, nodeDef } from './nodes.ts';

export type Graph = Record<string, { class_type?: unknown; inputs?: Record<string, unknown>; _meta?: { title?: string } }>;
export interface Reason {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}
export interface NodeErrors {
  [id: string]: { errors: Reason[]; dependent_outputs: string[]; class_type: string };
}
export type Validation = { ok: true; outputs: string[]; nodeErrors: NodeErrors } | { ok: false; error: Reason; nodeErrors: NodeErrors };

/** A Python exception raised while validating (becomes exception_during_validation). */
class PyError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
}

const fake_tb = (line: string) => [`  File "/opt/ComfyUI/execution.py", line 1010, in validate_prompt\n    m = await validate_inputs(prompt_id, prompt, o, validated)\n`, `  File "/opt/ComfyUI/execution.py", line 788, in validate_inputs\n    ${line}\n`];
const pyRepr = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

function convert(type: string, val: unknown): unknown {
  const bad = (msg: string) => {
    throw new PyError('ValueError', msg);
  };
  if (type === 'INT') {
    if (typeof val === 'number') return Math.trunc(val);
    if (typeof val === 'boolean') return val ? 1 : 0;
    if (typeof val === 'string' && /^\s*[-+]?\d+\s*$/.test(val)) return Number.parseInt(val, 10);
    return bad(typeof val === 'string' ? `invalid literal for int() with base 10: '${val}'` : `int() argument must be a string, a bytes-like object or a real number, not '${val === null ? 'NoneType' : 'dict'}'`);
  }
  if (type === 'FLOAT') {
    if (typeof val === 'number') return val;
    if (typeof val === 'boolean') return val ? 1 : 0;
    if (typeof val === 'string' && val.trim() !== '' && Number.isFinite(Number(val))) return Number(val);
    return bad(typeof val === 'string' ? `could not convert string to float: '${val}'` : `float() argument must be a string or a real number, not '${val === null ? 'NoneType' : 'dict'}'`);
  }
  if (type === 'STRING') return typeof val === 'string' ? val : JSON.stringify(val);
  if (type === 'BOOLEAN') return Boolean(val);
  return val;
}

export function validatePrompt(prompt: Graph, partial: string[] | null, version: string): Validation {
  const newTypes = versionAtLeast(version, '0.9.0');
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(prompt)) {
    const title = node._meta?.title;
    if (!('class_type' in node)) {
      const extra = newTypes ? { node_id: id, class_type: null, node_title: title ?? null } : {};
      const error = { type: newTypes ? 'missing_node_type' : 'invalid_prompt', message: 'Cannot execute because a node is missing the class_type property.', details: `Node ID '#${id}'`, extra_info: extra };
      return { ok: false, error, nodeErrors: {} };
    }
    const ct = String(node.class_type);
    const def = nodeDef(node.class_type);
    if (!def) {
      const error = newTypes
        ? { type: 'missing_node_type', message: `Node '${title ?? ct}' not found. The custom node may not be installed.`, details: `Node ID '#${id}'`, extra_info: { node_id: id, class_type: ct, node_title: title ?? ct } }
        : { type: 'invalid_prompt', message: `Cannot execute because node ${ct} does not exist.`, details: `Node ID '#${id}'`, extra_info: {} };
      return { ok: false, error, nodeErrors: {} };
    }
    if (def.info.output_node && (partial === null || partial.includes(id))) outputs.push(id);
  }
  if (outputs.length === 0) return { ok: false, error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, nodeErrors: {} };

  const validated = new Map<string, { ok: boolean; reasons: Reason[] }>();
  const visiting = new Set<string>();
  const validateInputs = (id: string): { ok: boolean; reasons: Reason[] } => {
    const done = validated.get(id);
    if (done) return done;
    const node = prompt[id]!;
    const def = nodeDef(node.class_type)!;
    node.inputs ??= {};
    const inputs = node.inputs;
    const specs: Record<string, [InputSpec, boolean]> = {};
    for (const [k, s] of Object.entries(def.info.input.required)) specs[k] = [s, true];
    for (const [k, s] of Object.entries(def.info.input.optional ?? {})) specs[k] = [s, false];
    const errors: Reason[] = [];
    let valid = true;
    visiting.add(id);
    try {
      for (const [x, [[type, opts = {}], required]] of Object.entries(specs)) {
        const config = [type, opts];
        if (!(x in inputs)) {
          if (required) errors.push({ type: 'required_input_missing', message: 'Required input is missing', details: x, extra_info: { input_name: x } });
          continue;
        }
        let val = inputs[x];
        if (Array.isArray(val)) {
          if (val.length !== 2) {
            errors.push({ type: 'bad_linked_input', message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]', details: x, extra_info: { input_name: x, input_config: config, received_value: val } });
            continue;
          }
          const [src, slot] = val as [unknown, unknown];
          const srcNode = typeof src === 'string' && Object.hasOwn(prompt, src) ? prompt[src] : undefined;
          if (!srcNode) throw new PyError('KeyError', pyRepr(src));
          const srcDef = nodeDef(srcNode.class_type)!;
          if (typeof slot !== 'number' || !Number.isInteger(slot)) throw new PyError('TypeError', `tuple indices must be integers or slices, not ${typeof slot === 'string' ? 'str' : 'float'}`);
          const received = srcDef.info.output.at(slot);
          if (received === undefined) throw new PyError('IndexError', 'tuple index out of range');
          if (received !== type && type !== '*' && received !== '*') {
            errors.push({ type: 'return_type_mismatch', message: 'Return type mismatch between linked nodes', details: `${x}, received_type(${received}) mismatch input_type(${type})`, extra_info: { input_name: x, input_config: config, received_type: received, linked_node: val } });
            continue;
          }
          if (visiting.has(src as string)) {
            errors.push({ type: 'dependency_cycle', message: 'Dependency cycle detected', details: `${x}`, extra_info: { input_name: x, linked_node: val } });
            continue;
          }
          try {
            if (!validateInputs(src as string).ok) valid = false;
          } catch (e) {
            if (!(e instanceof PyError)) throw e;
            valid = false;
            const extra = { input_name: x, input_config: config, exception_message: e.message, exception_type: e.pyType, traceback: fake_tb('r = nodes.NODE_CLASS_MAPPINGS[o_class_type].RETURN_TYPES'), linked_node: val };
            validated.set(src as string, { ok: false, reasons: [{ type: 'exception_during_inner_validation', message: 'Exception when validating inner node', details: e.message, extra_info: extra }] });
          }
          continue;
        }
        try {
          if (val && typeof val === 'object' && '__value__' in val) val = inputs[x] = (val as { __value__: unknown }).__value__;
          if (typeof type === 'string') val = inputs[x] = convert(type, val);
        } catch (e) {
          const msg = (e as Error).message;
          errors.push({ type: 'invalid_input_type', message: `Failed to convert an input value to a ${type} value`, details: `${x}, ${val}, ${msg}`, extra_info: { input_name: x, input_config: config, received_value: val, exception_message: msg } });
          continue;
        }
        const o = opts as { min?: number; max?: number };
        if (typeof val === 'number' && o.min !== undefined && val < o.min) {
          errors.push({ type: 'value_smaller_than_min', message: `Value ${val} smaller than min of ${o.min}`, details: x, extra_info: { input_name: x, input_config: config, received_value: val } });
          continue;
        }
        if (typeof val === 'number' && o.max !== undefined && val > o.max) {
          errors.push({ type: 'value_bigger_than_max', message: `Value ${val} bigger than max of ${o.max}`, details: x, extra_info: { input_name: x, input_config: config, received_value: val } });
          continue;
        }
        // Loaders (image_upload & co.) validate their file themselves, like ComfyUI's VALIDATE_INPUTS.
        const upload = 'image_upload' in opts || 'audio_upload' in opts || 'video_upload' in opts;
        if (Array.isArray(type) && !upload && !type.includes(val as string)) {
          errors.push({ type: 'value_not_in_list', message: 'Value not in list', details: `${x}: ${pyRepr(val)} not in ${JSON.stringify(type)}`, extra_info: { input_name: x, input_config: config, received_value: val } });
        }
      }
    } finally {
      visiting.delete(id);
    }
    const ret = { ok: errors.length === 0 && valid, reasons: errors };
    validated.set(id, ret);
    return ret;
  };

  const good: string[] = [];
  const failed: [string, Reason[]][] = [];
  const nodeErrors: NodeErrors = {};
  for (const o of outputs) {
    let r: { ok: boolean; reasons: Reason[] };
    try {
      r = validateInputs(o);
    } catch (e) {
      if (!(e instanceof PyError)) throw e;
      const reasons = [{ type: 'exception_during_validation', message: 'Exception when validating node', details: e.message, extra_info: { exception_type: e.pyType, traceback: fake_tb(`o_class_type = prompt[o_id]['class_type']`) } }];
      r = { ok: false, reasons };
      validated.set(o, r);
    }
    if (r.ok) {
      good.push(o);
      continue;
    }
    failed.push([o, r.reasons]);
    for (const [id, res] of validated) {
      if (res.ok || res.reasons.length === 0) continue;
      nodeErrors[id] ??= { errors: res.reasons, dependent_outputs: [], class_type: String(prompt[id]!.class_type) };
      nodeErrors[id].dependent_outputs.push(o);
    }
  }
  if (good.length === 0) {
    const details = failed.flatMap(([, rs]) => rs.map((e) => `${e.message}: ${e.details}`)).join('\n');
    return { ok: false, error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details, extra_info: {} }, nodeErrors };
  }
  return { ok: true, outputs: good, nodeErrors };
}
