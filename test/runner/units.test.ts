import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { HistoryEntry } from '../../lib/comfyui/types.ts';
import { classify, planOutputs, shortenName } from '../../lib/runner/outputs.ts';
import { prepareWorkflow } from '../../lib/runner/prepare.ts';
import { throttle } from '../../lib/runner/progress.ts';

const entry = (outputs: HistoryEntry['outputs'], status: HistoryEntry['status']): HistoryEntry => ({ prompt: [], outputs, status });

describe('prepareWorkflow', () => {
  it('applies params and moves every filename_prefix under vidax/<run_id>/ without touching the job', () => {
    const wf = {
      '1': { class_type: 'EmptyImage', inputs: { width: 64 } },
      '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'shots/a' } },
      '3': { class_type: 'SaveVideo', inputs: { video: ['1', 0], filename_prefix: 'clip' } },
    };
    const out = prepareWorkflow(wf, [{ node: '1', input: 'width', value: 128 }, { node: '2', input: 'filename_prefix', value: 'b' }], 'r_1_x');
    assert.equal(out['1']?.inputs.width, 128);
    assert.equal(out['2']?.inputs.filename_prefix, 'vidax/r_1_x/b');
    assert.equal(out['3']?.inputs.filename_prefix, 'vidax/r_1_x/clip');
    assert.equal(wf['2'].inputs.filename_prefix, 'shots/a', 'the submitted job is unchanged');
  });
});

describe('planOutputs', () => {
  it('lists every file of every key, skips non-files, refuses unsafe names and keeps names unique', () => {
    const plan = planOutputs(
      entry(
        {
          '2': { images: [{ filename: 'a.png', subfolder: 'vidax/r', type: 'output' }, { filename: '../x.png', subfolder: '', type: 'output' }], text: ['hi'] },
          '5': { images: [{ filename: 'a.png', subfolder: '', type: 'temp' }], animated: [true], audio: [{ filename: 'a.flac', subfolder: '', type: 'output' }] },
        },
        { status_str: 'success', completed: true, messages: [] },
      ),
    );
    assert.deepEqual(plan.files.map((f) => f.name), ['a.png', 'temp-5-a.png', 'a.flac']);
    assert.deepEqual(plan.refused, ['../x.png']);
    assert.deepEqual(plan.files[1]?.file, { filename: 'a.png', subfolder: '', type: 'temp' });
  });
});

describe('classify', () => {
  it('tells success, an execution error and an interrupt apart (history says error for both)', () => {
    assert.equal(classify(entry({}, { status_str: 'success', completed: true, messages: [] })), null);
    const err = classify(entry({}, { status_str: 'error', completed: false, messages: [['execution_start', {}], ['execution_error', { node_id: '2', node_type: 'SaveImage', exception_message: 'boom\n', exception_type: 'OSError' }]] }));
    assert.deepEqual([err?.code, err?.details], ['COMFYUI_EXECUTION_ERROR', { node_id: '2', node_type: 'SaveImage', exception_type: 'OSError', exception_message: 'boom\n' }]);
    const intr = classify(entry({}, { status_str: 'error', completed: false, messages: [['execution_interrupted', { node_id: '3', node_type: 'ImageBlur' }]] }));
    assert.equal(intr?.code, 'COMFYUI_INTERRUPTED');
    assert.equal(classify(entry({}, null))?.code, 'COMFYUI_EXECUTION_ERROR');
  });
});

describe('throttle', () => {
  // On mock timers: the 1000 pushes take as long as the machine needs, and still count as one
  // instant (no test depends on the machine being idle).
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('passes the first value at once, then at most one per window with the latest value', () => {
    const seen: number[] = [];
    const t = throttle(40, (v: number) => seen.push(v));
    for (let i = 1; i <= 1000; i++) t.push(i);
    assert.deepEqual(seen, [1]);
    mock.timers.tick(39);
    assert.deepEqual(seen, [1], 'nothing before the window ends');
    mock.timers.tick(1);
    assert.deepEqual(seen, [1, 1000]);
    t.push(1001);
    t.flush();
    assert.deepEqual(seen, [1, 1000, 1001]);
    t.cancel();
  });

  it('a steady stream gives one value per window, never more, each the latest', () => {
    const at: number[] = [];
    const seen: number[] = [];
    const t = throttle(40, (v: number) => {
      seen.push(v);
      at.push(Date.now());
    });
    for (let ms = 0; ms < 400; ms++) {
      t.push(ms);
      mock.timers.tick(1);
    }
    t.cancel();
    assert.deepEqual(at, [0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400]);
    assert.deepEqual(seen.slice(0, 3), [0, 39, 79], 'the latest value when the window ends');
  });

});

describe('output names', () => {
  it('are cut to 200 bytes of UTF-8 on a character boundary, keeping the extension, unique by a hash of the whole name', () => {
    const a = `${'é'.repeat(120)}_00001_.png`; // 251 bytes
    const b = `${'é'.repeat(120)}_00002_.png`;
    const sa = shortenName(a);
    assert.ok(Buffer.byteLength(sa) <= 200);
    assert.match(sa, /^é+~[0-9a-f]{8}\.png$/);
    assert.notEqual(sa, shortenName(b));
    assert.equal(Buffer.from(sa).toString('utf8'), sa, 'no character cut in half');
    assert.equal(shortenName('short.png'), 'short.png');
    const { files } = planOutputs({
      outputs: { 9: { images: [{ filename: a, subfolder: '', type: 'output' }, { filename: 'ok.png', subfolder: '', type: 'output' }] } },
    } as unknown as HistoryEntry);
    assert.deepEqual(files.map((f) => [f.name, f.original]), [[sa, a], ['ok.png', undefined]]);
  });
});
