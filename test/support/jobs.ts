import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './spawn.ts';

/** The model-free ComfyUI workflows, copied into the repo from the shared fixtures. */
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'comfyui', 'workflows');

export function fixtureWorkflow(name: 'workflow-single' | 'workflow-batch' | 'workflow-lipsync-standin'): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));
}

/** Every path under `dir` with its size: equal snapshots mean nothing was written. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      const st = statSync(p);
      out.push(`${p.slice(dir.length)}:${st.isDirectory() ? 'dir' : st.size}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

const DEEP = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;

/** A corpus of invalid jobs: [label, body, a path the 400 must name, the body as JSON text]. */
export function invalidJobs(): [string, unknown, string, string][] {
  const wf = fixtureWorkflow('workflow-single');
  const deepMeta = `{"workflow":${JSON.stringify(wf)},"metadata":{"deep":${DEEP}}}`;
  const deepInput = `{"workflow":{"1":{"class_type":"X","inputs":{"v":${DEEP}}}}}`;
  const cases: [string, unknown, string][] = [
    ['array body', [wf], ''],
    ['string body', 'hello', ''],
    ['number body', 42, ''],
    ['null body', null, ''],
    ['missing workflow', { name: 'x' }, 'workflow'],
    ['unknown top-level field', { workflow: wf, wrkflow: 1 }, 'wrkflow'],
    ['__proto__ key', JSON.parse(`{"workflow":${JSON.stringify(wf)},"__proto__":{"polluted":true}}`), '__proto__'],
    ['constructor key in metadata', { workflow: wf, metadata: { constructor: 1 } }, 'metadata.constructor'],
    ['workflow is an array', { workflow: [wf['1']] }, 'workflow'],
    ['workflow is a string', { workflow: 'x'.repeat(10_000) }, 'workflow'],
    ['empty workflow', { workflow: {} }, 'workflow'],
    ['UI-format workflow', { workflow: { last_node_id: 2, nodes: [{ id: 1, type: 'EmptyImage' }], links: [], version: 0.4 } }, 'workflow'],
    ['node without class_type', { workflow: { 1: { inputs: {} } } }, 'workflow.1.class_type'],
    ['node inputs not an object', { workflow: { 1: { class_type: 'EmptyImage', inputs: [1] } } }, 'workflow.1.inputs'],
    ['node is a string', { workflow: { 1: 'EmptyImage' } }, 'workflow.1'],
    ['dangling link', { workflow: { 2: { class_type: 'SaveImage', inputs: { images: ['9', 0] } } } }, 'workflow.2.inputs.images'],
    ['absolute filename_prefix', { workflow: { 1: { class_type: 'SaveImage', inputs: { filename_prefix: '/etc/x' } } } }, 'workflow.1.inputs.filename_prefix'],
    ['climbing filename_prefix', { workflow: { 1: { class_type: 'SaveImage', inputs: { filename_prefix: 'a/../../x' } } } }, 'workflow.1.inputs.filename_prefix'],
    ...(
      [
        ['a link', ['9', 0]],
        ['a number', 7],
        ['an object', { value: '../../../x' }],
        ['a list of strings', ['../../../x']],
        ['null', null],
      ] as const
    ).map(([what, prefix]): [string, unknown, string] => [
      `filename_prefix as ${what}`,
      // The link points at a node that exists and holds an escaping string: VIDAX could never scope it.
      { workflow: { 9: { class_type: 'PrimitiveString', inputs: { value: '../../../x' } }, 1: { class_type: 'SaveImage', inputs: { filename_prefix: prefix } } } },
      'workflow.1.inputs.filename_prefix',
    ]),
    ['params: unknown node', { workflow: wf, params: [{ node: '99', input: 'width', value: 1 }] }, 'params.0.node'],
    ['params: unknown input', { workflow: wf, params: [{ node: '1', input: 'nope', value: 1 }] }, 'params.0.input'],
    ['params: escaping prefix', { workflow: wf, params: [{ node: '2', input: 'filename_prefix', value: '..\\x' }] }, 'params.0.value'],
    ['params: not an array', { workflow: wf, params: { node: '1' } }, 'params'],
    ['params: missing value', { workflow: wf, params: [{ node: '1', input: 'width' }] }, 'params.0.value'],
    ['name too long', { workflow: wf, name: 'n'.repeat(201) }, 'name'],
    ['name not a string', { workflow: wf, name: 7 }, 'name'],
    ['metadata over 64 KiB', { workflow: wf, metadata: { blob: 'x'.repeat(70_000) } }, 'metadata'],
    ['metadata an array', { workflow: wf, metadata: [1, 2] }, 'metadata'],
    ['timeout_s zero', { workflow: wf, timeout_s: 0 }, 'timeout_s'],
    ['timeout_s fractional', { workflow: wf, timeout_s: 1.5 }, 'timeout_s'],
    ['timeout_s a huge string', { workflow: wf, timeout_s: 'x'.repeat(1_000_000) }, 'timeout_s'],
    ['phases: unknown phase', { workflow: wf, phases: { upscale: { enabled: true } } }, 'phases.upscale'],
    ['phases: enabled not boolean', { workflow: wf, phases: { stabilize: { enabled: 'yes' } } }, 'phases.stabilize.enabled'],
    ['phases: fps out of range', { workflow: wf, phases: { encode: { fps: 241 } } }, 'phases.encode.fps'],
    ['encode: crf out of range', { workflow: wf, phases: { encode: { crf: 52 } } }, 'phases.encode.crf'],
    ['encode: unknown preset', { workflow: wf, phases: { encode: { preset: 'turbo' } } }, 'phases.encode.preset'],
    ['encode: odd width', { workflow: wf, phases: { encode: { width: 641 } } }, 'phases.encode.width'],
    ['encode: audio names no input', { workflow: wf, phases: { encode: { audio: '../etc/passwd' } } }, 'phases.encode.audio'],
    ['stabilize: shakiness out of range', { workflow: wf, phases: { stabilize: { enabled: true, shakiness: 11 } } }, 'phases.stabilize.shakiness'],
    ['stabilize: zoom out of range', { workflow: wf, phases: { stabilize: { enabled: true, zoom: -51 } } }, 'phases.stabilize.zoom'],
    ['lipsync: enabled without a workflow', { workflow: wf, phases: { lipsync: { enabled: true } } }, 'phases.lipsync.workflow'],
    [
      'lipsync: video node not in its workflow',
      { workflow: wf, phases: { lipsync: { enabled: true, workflow: wf, video: { node: '99', input: 'file' }, audio: { node: '1', input: 'width', input_file: 'voice.wav' } } } },
      'phases.lipsync.video.node',
    ],
    [
      'lipsync: its workflow is validated like the main one',
      { workflow: wf, phases: { lipsync: { enabled: true, workflow: { '1': { class_type: 'X', inputs: { a: ['9', 0] } } }, video: { node: '1', input: 'a' }, audio: { node: '1', input: 'a', input_file: 'v.wav' } } } },
      'phases.lipsync.workflow.1.inputs.a',
    ],
    ['unicode and control chars in a key', { workflow: wf, 'na\u0000me\u202e': 'x' }, 'na\u0000me\u202e'],
  ];
  return [
    ...cases.map(([label, body, path]): [string, unknown, string, string] => [label, body, path, JSON.stringify(body)]),
    ['metadata nested 100 000 deep', JSON.parse(deepMeta), 'metadata.deep', deepMeta],
    ['workflow input nested 100 000 deep', JSON.parse(deepInput), 'workflow.1.inputs.v', deepInput],
  ];
}
