// The contract scenarios: what a client of VIDAX sees when VIDAX drives a ComfyUI. The same
// scenarios run on the simulator (default suite, both version modes) and on a real ComfyUI
// (`npm run test:comfyui`). Each scenario goes through the real VIDAX process and runner.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { versionAtLeast } from '../../simulator/args.ts';
import { encodePng, solidFrame } from '../../simulator/png.ts';
import { isAlive, until } from '../support/comfyui.ts';
import { probe } from '../support/media.ts';
import { type Event, type Json, Vidax } from './harness.ts';
import { mediaScenarios } from './media.ts';
import type { Target } from './targets.ts';
import { fixture, freshColour, sha256, wav } from './util.ts';

export { fixture, wav } from './util.ts';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const types = (events: Event[]) => events.map((e) => e.type);
/**
 * A model-free workflow that takes about `n × blurSeconds`: a fresh 128×128 image (a colour no
 * earlier prompt used, so nothing is cached) through `n` blurs of radius 31, then SaveImage.
 * An interrupt lands at the next node, as in ComfyUI.
 */
export function slowWorkflow(n: number, prefix: string): Record<string, Json> {
  const wf: Record<string, Json> = { '1': { class_type: 'EmptyImage', inputs: { width: 128, height: 128, batch_size: 1, color: freshColour() } } };
  for (let i = 0; i < n; i++) wf[String(i + 2)] = { class_type: 'ImageBlur', inputs: { image: [String(i + 1), 0], blur_radius: 31, sigma: 5 } };
  wf[String(n + 2)] = { class_type: 'SaveImage', inputs: { images: [String(n + 1), 0], filename_prefix: prefix } };
  return wf;
}
/**
 * Seconds per blur node on this ComfyUI now (a real CPU ComfyUI's speed depends on the machine
 * and its load): a 4-node chain sent directly, timed to its history entry.
 */
async function calibrate(t: Target): Promise<number> {
  // A first tiny blur warms ComfyUI up (imports, first kernels), so the timing is of steady work.
  const warm = randomUUID();
  const tiny = { '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: freshColour() } }, '2': { class_type: 'ImageBlur', inputs: { image: ['1', 0], blur_radius: 1, sigma: 1 } }, '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'vidax/contract-calibrate/warm' } } };
  const w0 = Date.now();
  await comfyui(t, 'POST', '/prompt', { prompt: tiny, prompt_id: warm });
  await until('the warm-up prompt', async () => (await comfyui(t, 'GET', `/history/${warm}`))[warm], 120_000);
  const overhead = Date.now() - w0; // submit, save, poll: counted once (an overestimate: the first run is the slowest)
  const id = randomUUID();
  const t0 = Date.now();
  await comfyui(t, 'POST', '/prompt', { prompt: slowWorkflow(4, 'vidax/contract-calibrate/c'), prompt_id: id });
  await until('the calibration prompt', async () => (await comfyui(t, 'GET', `/history/${id}`))[id], 120_000);
  // Erring low makes slow workflows longer than asked, never shorter.
  const s = Math.max(0.05, (Date.now() - t0 - overhead) / 4000);
  process.stderr.write(`# one blur node takes ${s.toFixed(2)} s here\n`);
  return s;
}

/** Blur nodes for a run of at least `seconds` on this target. */
const nodesFor = (t: Target, seconds: number) => Math.ceil(seconds / t.blurSeconds);

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** Asserts a completed run's ComfyUI outputs: downloaded, hashed, and (when visible) left only under vidax/<run_id>/. */
function checkOutputs(t: Target, m: Json, expected: string[]) {
  const outs = m.artifacts.filter((a: Json) => a.phase === 'comfyui');
  assert.deepEqual(outs.map((a: Json) => a.path), expected);
  for (const a of outs) {
    const file = join(m.workdir, a.path);
    assert.equal(a.sha256, sha256(file), a.path);
    assert.equal(a.bytes, readFileSync(file).length);
    if (a.path.endsWith('.png')) assert.deepEqual(readFileSync(file).subarray(0, 8), PNG, `${a.path} is a PNG`);
  }
  if (t.outputDir) {
    const mine = filesUnder(join(t.outputDir, 'vidax', m.run_id)).sort();
    assert.deepEqual(mine, expected.map((p) => p.replace(/^outputs\//, '')).sort(), 'ComfyUI kept the outputs under vidax/<run_id>/');
  }
}

/** A direct call to the ComfyUI the target runs (what another client of that ComfyUI does). */
async function comfyui(t: Target, method: string, path: string, body?: unknown): Promise<Json> {
  const res = await fetch(`${t.comfyui.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method} ${path}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Registers the contract suite for the target `make` builds. */
export function contractSuite(make: () => Promise<Target>) {
  describe('contract: VIDAX against a ComfyUI', { timeout: 30 * 60_000 }, () => {
    let t: Target;
    let vx: Vidax;
    let version = '';

    before(async () => {
      t = await make();
      vx = new Vidax(t);
      await vx.start();
      const started = await vx.ensureComfyUI();
      assert.equal(started.managed, t.managed);
      const health = await vx.health();
      assert.equal(health.status, 'ready');
      version = health.version;
      if (t.simVersion) assert.equal(version, t.simVersion);
      else t.blurSeconds = await calibrate(t);
      process.stderr.write(`# contract target: ${t.label}, ComfyUI ${version}\n`);
    });
    after(async () => {
      await vx?.stop();
      if (t?.outputDir) {
        // Nothing of VIDAX's outside ComfyUI's vidax/ subfolders.
        const top = (d: string) => (existsSync(d) ? readdirSync(d).filter((n) => n !== '_output_images_will_be_put_here') : []);
        assert.deepEqual(top(t.outputDir).filter((n) => n !== 'vidax'), [], 'ComfyUI output folder: only vidax/');
        if (t.inputDir) assert.deepEqual(top(t.inputDir).filter((n) => n !== 'vidax' && !n.startsWith('3d') && n !== 'example.png'), [], 'ComfyUI input folder: only vidax/');
      }
      vx?.dispose();
    });

    it('single image: five phases, the PNG downloaded and hashed, prefix under vidax/<run_id>/', async () => {
      const id = await vx.run({ workflow: fixture('workflow-single'), name: 'contract single' });
      const end = await vx.waitEnd(id);
      assert.equal(end.run_status, 'completed', JSON.stringify(end.error));
      assert.equal(end.exit_status, 'success');
      const m = await vx.manifest(id);
      assert.deepEqual(Object.entries(m.phases).map(([k, p]) => [k, (p as Json).status]), [
        ['prepare', 'completed'], ['comfyui', 'completed'], ['stabilize', 'skipped'], ['lipsync', 'skipped'], ['encode', 'completed'],
      ]);
      assert.match(m.phases.comfyui.prompt_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      checkOutputs(t, m, ['outputs/fixture_single_00001_.png']);
      const sent = JSON.parse(readFileSync(join(m.workdir, 'workflow.json'), 'utf8'));
      assert.equal(sent['2'].inputs.filename_prefix, `vidax/${id}/fixture_single`);
      const ev = types(await vx.events(id));
      for (const e of ['run.started', 'comfyui.queued', 'comfyui.node_output', 'comfyui.output_downloaded', 'run.completed']) assert.ok(ev.includes(e), `${e} in ${ev}`);
      // ComfyUI's own record agrees: the prompt succeeded with that output.
      const h = await comfyui(t, 'GET', `/history/${m.phases.comfyui.prompt_id}`);
      assert.equal(h[m.phases.comfyui.prompt_id].status.status_str, 'success');
    });

    it('batch: every image of a 4-frame batch', async () => {
      const id = await vx.run({ workflow: fixture('workflow-batch') });
      const end = await vx.waitEnd(id);
      assert.equal(end.exit_status, 'success', JSON.stringify(end.error));
      checkOutputs(t, await vx.manifest(id), [1, 2, 3, 4].map((n) => `outputs/fixture_batch_0000${n}_.png`));
    });

    it('rejection: an unknown node type is COMFYUI_REJECTED with ComfyUI\'s error, nothing produced', async () => {
      const wf = fixture('workflow-single');
      wf['1'].class_type = 'VidaxNoSuchNode';
      const id = await vx.run({ workflow: wf });
      const end = await vx.waitEnd(id);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.error.code, 'COMFYUI_REJECTED');
      // v0.3.64 says invalid_prompt; newer releases missing_node_type.
      const expected = t.simVersion ? [versionAtLeast(t.simVersion, '0.9.0') ? 'missing_node_type' : 'invalid_prompt'] : ['invalid_prompt', 'missing_node_type'];
      assert.ok(expected.includes(end.error.details.error.type), JSON.stringify(end.error.details));
      // The class is named in the message (v0.3.64) or in extra_info.class_type (newer: the message names the node title).
      assert.match(JSON.stringify(end.error.details.error), /VidaxNoSuchNode/);
      assert.equal(end.phases.encode.status, 'skipped');
      assert.deepEqual((await vx.manifest(id)).artifacts, []);
    });

    it('rejection: a missing required input names the node and the input', async () => {
      const wf = fixture('workflow-single');
      delete wf['1'].inputs.color;
      const id = await vx.run({ workflow: wf });
      const end = await vx.waitEnd(id);
      assert.equal(end.error.code, 'COMFYUI_REJECTED');
      assert.equal(end.error.details.error.type, 'prompt_outputs_failed_validation');
      const err = end.error.details.node_errors['1'].errors[0];
      assert.equal(err.type, 'required_input_missing');
      assert.equal(err.details, 'color');
      assert.equal(end.error.details.node_errors['1'].class_type, 'EmptyImage');
    });

    it('execution error: EmptyImage 4×4 → ImageBlur radius 10 fails in ImageBlur', async () => {
      const wf = {
        '1': { class_type: 'EmptyImage', inputs: { width: 4, height: 4, batch_size: 1, color: freshColour() } },
        '2': { class_type: 'ImageBlur', inputs: { image: ['1', 0], blur_radius: 10, sigma: 1 } },
        '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'blur_error' } },
      };
      const id = await vx.run({ workflow: wf });
      const end = await vx.waitEnd(id);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.error.code, 'COMFYUI_EXECUTION_ERROR');
      assert.equal(end.error.details.node_id, '2');
      assert.equal(end.error.details.node_type, 'ImageBlur');
      assert.equal(end.error.details.exception_type, 'RuntimeError');
      assert.match(end.error.details.exception_message, /Padding size should be less than the corresponding input dimension/);
      assert.deepEqual((await vx.manifest(id)).artifacts, []);
    });

    it('timeout: VIDAX interrupts its own prompt (by id), COMFYUI_TIMEOUT, ComfyUI is free again', async () => {
      const id = await vx.run({ workflow: slowWorkflow(nodesFor(t, 12), 'timeout'), timeout_s: 1 });
      const end = await vx.waitEnd(id);
      assert.equal(end.error.code, 'COMFYUI_TIMEOUT', JSON.stringify(end.error));
      assert.ok(types(await vx.events(id)).includes('comfyui.interrupted_by_vidax'));
      const promptId = end.phases.comfyui.prompt_id;
      const h = await until('ComfyUI to record the interrupt', async () => (await comfyui(t, 'GET', `/history/${promptId}`))[promptId], 60_000);
      assert.equal(h.status.status_str, 'error');
      assert.equal(h.status.messages.at(-1)[0], 'execution_interrupted');
      // Newer ComfyUI (jobs API, v0.6.0+) calls the same prompt `cancelled` there.
      const job = await fetch(`${t.comfyui.url}/api/jobs/${promptId}`, { signal: AbortSignal.timeout(30_000) });
      if (t.simVersion && versionAtLeast(t.simVersion, '0.6.0')) assert.equal(job.status, 200);
      if (job.status === 200) assert.equal((await job.json()).status, 'cancelled');
      else await job.arrayBuffer();
      await until('the queue to drain', async () => {
        const q = await comfyui(t, 'GET', '/queue');
        return q.queue_running.length + q.queue_pending.length === 0;
      }, 60_000);
    });

    it('timeout while waiting: only VIDAX\'s prompt is dropped; another client\'s running prompt is not interrupted', async () => {
      const other = randomUUID();
      await comfyui(t, 'POST', '/prompt', { prompt: slowWorkflow(nodesFor(t, 4), 'vidax/contract-other/other_client'), prompt_id: other, client_id: 'contract-other' });
      const id = await vx.run({ workflow: slowWorkflow(1, 'never_runs'), timeout_s: 1 });
      const end = await vx.waitEnd(id);
      assert.equal(end.error.code, 'COMFYUI_TIMEOUT');
      const h = await until('the other client\'s prompt to finish', async () => (await comfyui(t, 'GET', `/history/${other}`))[other], t.runMs);
      assert.equal(h.status.status_str, 'success', JSON.stringify(h.status.messages.at(-1)));
      assert.deepEqual(await comfyui(t, 'GET', `/history/${end.phases.comfyui.prompt_id}`), {}, 'VIDAX\'s prompt never ran');
    });

    it('two runs: the second waits with queue_position 1, then both complete', async () => {
      const a = await vx.run({ workflow: slowWorkflow(nodesFor(t, 4), 'first') });
      await vx.waitJob(a, 'the first run to be running in ComfyUI', (j) => j.phases.comfyui.queue_position === 0);
      const b = await vx.run({ workflow: fixture('workflow-single') });
      const waiting = await vx.waitJob(b, 'the second run to show it waits', (j) => j.phases.comfyui.queue_position === 1);
      assert.equal(waiting.run_status, 'running');
      const [ea, eb] = await Promise.all([vx.waitEnd(a), vx.waitEnd(b)]);
      assert.equal(ea.exit_status, 'success', JSON.stringify(ea.error));
      assert.equal(eb.exit_status, 'success', JSON.stringify(eb.error));
      assert.equal(eb.phases.comfyui.queue_position, null);
      checkOutputs(t, await vx.manifest(a), ['outputs/first_00001_.png']);
      checkOutputs(t, await vx.manifest(b), ['outputs/fixture_single_00001_.png']);
    });

    it('inputs: a PNG and a WAV sent with the job are uploaded under vidax/<run_id>/ and used (workflow-video)', async () => {
      const face = encodePng(solidFrame(32, 24, freshColour()));
      const voice = wav(1, 16_000);
      const id = await vx.createWithFiles(
        { workflow: fixture('workflow-video'), params: [{ node: '1', input: 'image', input_file: 'face' }, { node: '4', input: 'audio', input_file: 'voice' }] },
        { face: { bytes: face, filename: 'face.png', type: 'image/png' }, voice: { bytes: voice, filename: 'voice.wav', type: 'audio/wav' } },
      );
      await vx.startRun(id);
      const end = await vx.waitEnd(id);
      assert.equal(end.exit_status, 'success', JSON.stringify(end.error));
      const m = await vx.manifest(id);
      assert.deepEqual(m.inputs.map((i: Json) => [i.name, i.bytes, i.sha256]).sort(), [
        ['face', face.length, sha256(face)],
        ['voice', voice.length, sha256(voice)],
      ]);
      const sent = JSON.parse(readFileSync(join(m.workdir, 'workflow.json'), 'utf8'));
      assert.match(sent['1'].inputs.image, new RegExp(`^vidax/${id}/`));
      assert.match(sent['4'].inputs.audio, new RegExp(`^vidax/${id}/`));
      if (t.inputDir) {
        // What ComfyUI was handed is byte for byte what the client sent, under vidax/<run_id>/.
        assert.deepEqual(readFileSync(join(t.inputDir, sent['1'].inputs.image)), face);
        assert.deepEqual(readFileSync(join(t.inputDir, sent['4'].inputs.audio)), voice);
      }
      const mp4 = m.artifacts.filter((a: Json) => a.phase === 'comfyui' && a.path.endsWith('.mp4'));
      assert.equal(mp4.length, 1, JSON.stringify(m.artifacts));
      const final = readFileSync(join(m.workdir, 'final.mp4'));
      assert.equal(final.subarray(4, 8).toString('latin1'), 'ftyp');
      assert.equal(m.phases.encode.source, mp4[0].path, 'final.mp4 is encoded from the clip ComfyUI made');
      assert.deepEqual([m.phases.encode.media.video_codec, m.phases.encode.media.frames, m.phases.encode.media.audio_codec], ['h264', 8, 'aac']);
      {
        // SaveVideo (real, or the simulator's through ffmpeg) gives H.264 + AAC: 8 frames of 128×128
        // at 8 fps, with the WAV's second of sound; encode keeps them in final.mp4.
        const { video, audio } = probe(join(m.workdir, 'final.mp4'));
        assert.deepEqual([video?.codec, video?.width, video?.height, video?.frames], ['h264', 128, 128, 8]);
        assert.equal(audio?.codec, 'aac');
      }
    });

    // Stabilize, the lip-sync stand-in, encode to a playable final.mp4, and the three together.
    mediaScenarios(() => ({ t, vx }));

    it('ComfyUI killed mid-run (managed): COMFYUI_CRASHED, VIDAX restarts it, the next run succeeds', async (ctx) => {
      if (!t.managed) return ctx.skip('needs a ComfyUI VIDAX manages (VIDAX_TEST_COMFYUI=<start script>)');
      const id = await vx.run({ workflow: slowWorkflow(nodesFor(t, 30), 'crash') });
      await vx.waitJob(id, 'the run to be running in ComfyUI', (j) => j.phases.comfyui.queue_position === 0);
      const before = await vx.health();
      assert.ok(isAlive(before.pid), 'health names the live ComfyUI pid');
      process.kill(before.pid, 'SIGKILL');
      const end = await vx.waitEnd(id, 60_000);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.error.code, 'COMFYUI_CRASHED');
      const restarted = await until('ComfyUI to be restarted', async () => {
        const h = await vx.health();
        return h.status === 'ready' && h.pid !== before.pid ? h : null;
      }, 240_000);
      assert.equal(restarted.restarts, 1);
      const next = await vx.run({ workflow: fixture('workflow-single') });
      const ok = await vx.waitEnd(next);
      assert.equal(ok.exit_status, 'success', JSON.stringify(ok.error));
    });

    it('kill -9 of VIDAX mid-run: the restarted VIDAX re-attaches the run and finishes it', async () => {
      const id = await vx.run({ workflow: slowWorkflow(nodesFor(t, 8), 'reattach') });
      await vx.waitJob(id, 'the run to be running in ComfyUI', (j) => j.phases.comfyui.queue_position === 0);
      await vx.crash();
      await vx.start();
      const end = await vx.waitEnd(id);
      assert.equal(end.run_status, 'completed', `${JSON.stringify(end.error)}\n${vx.comfyuiLog()}`);
      assert.equal(end.exit_status, 'success');
      assert.ok(types(await vx.events(id)).includes('run.reattached'));
      checkOutputs(t, await vx.manifest(id), ['outputs/reattach_00001_.png']);
      // The same ComfyUI goes on serving new runs.
      const next = await vx.run({ workflow: fixture('workflow-batch') });
      assert.equal((await vx.waitEnd(next)).exit_status, 'success');
    });
  });
}
