import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until } from '../support/comfyui.ts';
import { probe } from '../support/media.ts';
import { startVidaxWithSim, workflow } from '../support/vidax.ts';

type Vidax = Awaited<ReturnType<typeof startVidaxWithSim>>;
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const slowWorkflow = (steps: number, stepMs: number, prefix = 'slow') => ({
  '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps, step_ms: stepMs } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: prefix } },
});

describe('runner end to end (managed simulator)', () => {
  let vx: Vidax;
  before(async () => {
    vx = await startVidaxWithSim({ simArgs: ['--fail-node', 'ImageInvert'] });
  });
  after(() => vx.close());

  it('runs a single-output job: five phases, artifacts with sha256, final.mp4, events in order', async () => {
    const id = await vx.createRun({ workflow: workflow('single'), name: 'single' });
    const started = await vx.start(id);
    assert.equal(started.status, 202);
    assert.deepEqual(started.body, { run_id: id, run_status: 'running' });
    const end = await vx.waitEnd(id);
    assert.equal(end.run_status, 'completed');
    assert.equal(end.exit_status, 'success');
    const m = await vx.manifest(id);
    assert.deepEqual(
      Object.entries(m.phases).map(([k, p]) => [k, (p as { status: string }).status]),
      [['prepare', 'completed'], ['comfyui', 'completed'], ['stabilize', 'skipped'], ['lipsync', 'skipped'], ['encode', 'completed']],
    );
    assert.match(m.phases.comfyui.prompt_id, /^[0-9a-f-]{36}$/);
    // final.mp4 is real: the one PNG as a one-frame H.264 clip at the default 24 fps.
    assert.deepEqual(
      { codec: m.phases.encode.media.video_codec, frames: m.phases.encode.media.frames, w: m.phases.encode.media.width, fps: m.phases.encode.media.fps },
      { codec: 'h264', frames: 1, w: 64, fps: 24 },
    );
    const probed = probe(join(m.workdir, 'final.mp4'));
    assert.deepEqual([probed.video?.codec, probed.video?.pix_fmt, probed.video?.frames], ['h264', 'yuv420p', 1]);
    assert.equal(m.phases.encode.media.sha256, sha256(join(m.workdir, 'final.mp4')));
    const png = m.artifacts.find((a: { phase: string }) => a.phase === 'comfyui');
    assert.equal(png.path, 'outputs/fixture_single_00001_.png');
    assert.equal(png.sha256, sha256(join(m.workdir, png.path)));
    const final = m.artifacts.find((a: { path: string }) => a.path === 'final.mp4');
    assert.equal(final.sha256, sha256(join(m.workdir, 'final.mp4')));
    const sent = JSON.parse(readFileSync(join(m.workdir, 'workflow.json'), 'utf8'));
    assert.equal(sent['2'].inputs.filename_prefix, `vidax/${id}/fixture_single`);
    const types = (await vx.events(id)).map((e: { type: string }) => e.type);
    for (const t of ['run.created', 'run.started', 'phase.started', 'comfyui.queued', 'comfyui.node_output', 'phase.completed', 'run.completed']) {
      assert.ok(types.includes(t), `events include ${t}: ${types.join(',')}`);
    }
    assert.ok(types.indexOf('comfyui.queued') < types.indexOf('run.completed'));
    const seqs = (await vx.events(id)).map((e: { seq: number }) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  });

  it('an output name of 240 bytes (valid on ext4) is shortened in outputs/ with ComfyUI\'s own kept in the manifest', async () => {
    // ComfyUI names it `<prefix>_00001_.png`: 240 bytes (the simulator's own temp name must fit
    // too; multi-byte names are covered by the unit test of shortenName).
    const prefix = 'x'.repeat(229);
    const id = await vx.createRun({
      workflow: {
        '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
        '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: prefix } },
      },
    });
    await vx.start(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.run_status, 'completed', JSON.stringify(end.error));
    const m = await vx.manifest(id);
    const out = m.artifacts.find((a: { phase: string }) => a.phase === 'comfyui');
    assert.equal(out.original_name, `${prefix}_00001_.png`);
    assert.equal(Buffer.byteLength(out.original_name), 240);
    const name = out.path.slice('outputs/'.length);
    assert.ok(Buffer.byteLength(name) <= 200, `${Buffer.byteLength(name)} bytes`);
    assert.match(name, /^x+~[0-9a-f]{8}\.png$/);
    assert.equal(out.sha256, sha256(join(m.workdir, out.path)));
  });

  it('downloads every file of a batch output', async () => {
    const id = await vx.createRun({ workflow: workflow('batch') });
    await vx.start(id);
    await vx.waitEnd(id);
    const m = await vx.manifest(id);
    const files = m.artifacts.filter((a: { phase: string }) => a.phase === 'comfyui').map((a: { path: string }) => a.path);
    assert.deepEqual(files, [1, 2, 3, 4].map((n) => `outputs/fixture_batch_0000${n}_.png`));
    for (const f of files) assert.ok(existsSync(join(m.workdir, f)));
  });

  it('encodes the ComfyUI clip (a real H.264 mp4 from the simulator) into final.mp4', async () => {
    const wf = {
      '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 3, color: 255 } },
      '2': { class_type: 'CreateVideo', inputs: { images: ['1', 0], fps: 12 } },
      '3': { class_type: 'SaveVideo', inputs: { video: ['2', 0], filename_prefix: 'clip', format: 'mp4', codec: 'h264' } },
    };
    const id = await vx.createRun({ workflow: wf, phases: { encode: { fps: 12 } } });
    await vx.start(id);
    assert.equal((await vx.waitEnd(id)).exit_status, 'success');
    const m = await vx.manifest(id);
    const mp4 = m.artifacts.find((a: { path: string; phase: string }) => a.path.endsWith('.mp4') && a.phase === 'comfyui');
    assert.equal(m.phases.encode.source, mp4.path, 'the video output is the source, not the images');
    const clip = probe(join(m.workdir, mp4.path));
    assert.deepEqual([clip.video?.codec, clip.video?.frames, clip.video?.fps], ['h264', 3, '12/1'], 'the simulator writes playable video');
    const final = probe(join(m.workdir, 'final.mp4'));
    assert.deepEqual([final.video?.codec, final.video?.pix_fmt, final.video?.frames, final.video?.fps], ['h264', 'yuv420p', 3, '12/1']);
    const art = m.artifacts.find((a: { path: string }) => a.path === 'final.mp4');
    assert.equal(art.sha256, sha256(join(m.workdir, 'final.mp4')));
    assert.equal(art.phase, 'encode');
  });

  it('fails a workflow ComfyUI rejects with COMFYUI_REJECTED and its node_errors', async () => {
    const wf = workflow('single');
    wf['1'].inputs.width = 0;
    const id = await vx.createRun({ workflow: wf });
    await vx.start(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.run_status, 'failed');
    assert.equal(end.exit_status, 'failed');
    assert.equal(end.error.code, 'COMFYUI_REJECTED');
    assert.equal(end.phases.comfyui.status, 'failed');
    assert.equal(end.error.details.node_errors['1'].errors[0].type, 'value_smaller_than_min');
    assert.equal(end.phases.encode.status, 'skipped');
  });

  it('fails an execution error with the node id, type and message', async () => {
    const wf = {
      '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
      '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
      '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'inv' } },
    };
    const id = await vx.createRun({ workflow: wf });
    await vx.start(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.error.code, 'COMFYUI_EXECUTION_ERROR');
    assert.equal(end.error.details.node_id, '2');
    assert.equal(end.error.details.node_type, 'ImageInvert');
    assert.ok(end.error.details.exception_message);
  });

  it('times out: interrupts that prompt by id and fails COMFYUI_TIMEOUT; ComfyUI is free again', async () => {
    const id = await vx.createRun({ workflow: slowWorkflow(200, 50, 'timeout'), timeout_s: 1 });
    await vx.start(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.error.code, 'COMFYUI_TIMEOUT');
    const types = (await vx.events(id)).map((e: { type: string }) => e.type);
    assert.ok(types.includes('comfyui.interrupted_by_vidax'));
    const health = await until('the queue to drain', async () => {
      const h = await vx.comfyuiHealth();
      return h.queue && h.queue.running + h.queue.pending === 0 ? h : null;
    });
    assert.equal(health.status, 'ready');
  });

  it('lets exactly one of concurrent starts win', async () => {
    const id = await vx.createRun({ workflow: workflow('single') });
    const answers = await Promise.all([vx.start(id), vx.start(id), vx.start(id), vx.start(id)]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [202, 409, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) assert.equal(a.body.error.code, 'run_already_started');
    await vx.waitEnd(id);
    assert.equal((await vx.start(id)).status, 409);
  });

  it('runs two jobs at once; the waiting one shows its queue position', async () => {
    const a = await vx.createRun({ workflow: slowWorkflow(60, 50, 'first') });
    const b = await vx.createRun({ workflow: slowWorkflow(2, 10, 'second') });
    await vx.start(a);
    await vx.start(b);
    const waiting = await until('the second run to show it waits', async () => {
      const res = await vx.get(b);
      return res.body.phases.comfyui.queue_position === 1 ? res.body : null;
    });
    assert.equal(waiting.run_status, 'running');
    const [ea, eb] = await Promise.all([vx.waitEnd(a), vx.waitEnd(b)]);
    assert.equal(ea.exit_status, 'success');
    assert.equal(eb.exit_status, 'success');
    assert.equal((await vx.manifest(b)).phases.comfyui.queue_position, null, 'cleared once done');
    const progressA = (await vx.events(a)).filter((e: { type: string }) => e.type === 'comfyui.progress');
    assert.ok(progressA.length >= 2 && progressA.length < 20, `progress is throttled: ${progressA.length} lines for 60 steps`);
    const pa = (await vx.manifest(a)).artifacts.map((x: { path: string }) => x.path);
    const pb = (await vx.manifest(b)).artifacts.map((x: { path: string }) => x.path);
    assert.ok(pa.includes('outputs/first_00001_.png') && pb.includes('outputs/second_00001_.png'));
  });

  it('stabilizes when requested: the stabilized clip is an artifact and the source of final.mp4', async () => {
    const id = await vx.createRun({ workflow: workflow('batch'), phases: { stabilize: { enabled: true, smoothing: 5 } } });
    await vx.start(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.run_status, 'completed');
    assert.equal(end.exit_status, 'success');
    assert.equal(end.phases.stabilize.status, 'completed');
    assert.equal(end.phases.stabilize.output, 'stabilize/stabilized.mkv');
    assert.equal(end.phases.encode.source, 'stabilize/stabilized.mkv');
    assert.equal(end.phases.lipsync.requested, false);
    const m = await vx.manifest(id);
    const stab = m.artifacts.filter((a: { phase: string }) => a.phase === 'stabilize').map((a: { path: string }) => a.path);
    assert.deepEqual(stab.sort(), ['stabilize/stabilized.mkv', 'stabilize/transforms.trf']);
    assert.equal(probe(join(m.workdir, 'final.mp4')).video?.frames, 4);
  });

  it('404s an unknown run and a malformed id', async () => {
    assert.equal((await vx.start('r_0000000000000_zz')).body.error.code, 'run_not_found');
    assert.equal((await vx.start('..%2F..%2Fetc')).status, 404);
  });
});
