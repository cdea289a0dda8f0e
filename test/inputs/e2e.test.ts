import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { FormData, fetch } from 'undici';
import { TEST_KEY, tempDir } from '../support/context.ts';
import { makeClip, probe } from '../support/media.ts';
import { startVidaxWithSim } from '../support/vidax.ts';

type Vidax = Awaited<ReturnType<typeof startVidaxWithSim>>;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const video = () => JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/comfyui/workflows/workflow-video.json'), 'utf8'));

/** A real 16×16 RGB PNG (red left half, blue right half). */
function png(): Buffer {
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  const chunk = (type: string, data: Buffer) => Buffer.concat([u32(data.length), Buffer.from(type), data, u32(0)]);
  const raw = Buffer.alloc(16 * (16 * 3 + 1));
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) raw.set(x < 8 ? [255, 0, 0] : [0, 0, 255], y * 49 + 1 + x * 3);
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', Buffer.concat([u32(16), u32(16), Buffer.from([8, 2, 0, 0, 0])])), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
/** A real 0.25 s mono 8 kHz 16-bit WAV. */
function wav(): Buffer {
  const samples = Buffer.alloc(4000);
  for (let i = 0; i < 2000; i++) samples.writeInt16LE(Math.round(8000 * Math.sin(i / 4)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + samples.length, 4); h.write('WAVEfmt ', 8); h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22); h.writeUInt32LE(8000, 24); h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34); h.write('data', 36); h.writeUInt32LE(samples.length, 40);
  return Buffer.concat([h, samples]);
}
const PNG = png();
const WAV = wav();
const params = [
  { node: '1', input: 'image', input_file: 'face' },
  { node: '4', input: 'audio', input_file: 'voice' },
];

describe('inputs through prepare into ComfyUI (managed simulator)', () => {
  let vx: Vidax;
  let files: Server;
  let filesUrl = '';
  const simInput = tempDir('vidax-sim-input-');

  before(async () => {
    files = createServer((req, res) => {
      if (req.url === '/face.png') return res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
      if (req.url === '/to-metadata') return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      res.writeHead(404).end('no');
    });
    files.listen(0, '127.0.0.1');
    await once(files, 'listening');
    filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
    // Loopback is opened for this test's file server only through the config switch.
    vx = await startVidaxWithSim({ simArgs: ['--input-directory', simInput], config: { inputs: { urlAllow: ['127.0.0.1'], unsafeAllowLoopback: true } } });
  });
  after(async () => {
    await vx.close();
    files.close();
  });

  const post = async (body: FormData | string) => {
    const res = await fetch(`${vx.running.url}/jobs`, {
      method: 'POST', body, headers: { 'x-api-key': TEST_KEY, ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}) },
    });
    const json = (await res.json()) as { run_id: string };
    assert.equal(res.status, 202, JSON.stringify(json));
    return json.run_id;
  };

  it('workflow-video with an uploaded PNG and WAV: uploaded under vidax/<run_id>/, loaded, an mp4 with the audio', async () => {
    const form = new FormData();
    form.append('job', JSON.stringify({ workflow: video(), params }));
    form.append('face', new Blob([new Uint8Array(PNG)], { type: 'image/png' }), 'face.png');
    form.append('voice', new Blob([new Uint8Array(WAV)], { type: 'audio/wav' }), 'voice.wav');
    form.append('notes', new Blob(['not for ComfyUI']), 'notes.txt');
    const id = await post(form);
    assert.equal((await vx.start(id)).status, 202);
    const end = await vx.waitEnd(id);
    assert.equal(end.run_status, 'completed', JSON.stringify(end.error));
    const m = await vx.manifest(id);
    assert.deepEqual(m.inputs.map((i: { name: string; sha256: string }) => [i.name, i.sha256]), [['face', sha(PNG)], ['notes', sha(Buffer.from('not for ComfyUI'))], ['voice', sha(WAV)]]);
    const sent = JSON.parse(readFileSync(join(m.workdir, 'workflow.json'), 'utf8'));
    assert.equal(sent['1'].inputs.image, `vidax/${id}/face.png`);
    assert.equal(sent['4'].inputs.audio, `vidax/${id}/voice.wav`);
    assert.deepEqual(readFileSync(join(simInput, 'vidax', id, 'face.png')), PNG);
    assert.deepEqual(readFileSync(join(simInput, 'vidax', id, 'voice.wav')), WAV);
    assert.ok(!existsSync(join(simInput, 'vidax', id, 'notes.txt')), 'an unreferenced input is not uploaded');
    assert.ok(existsSync(join(m.workdir, 'inputs', 'notes')), '… but kept in the run');
    const mp4 = m.artifacts.find((a: { path: string; phase: string }) => a.phase === 'comfyui' && a.path.endsWith('.mp4'));
    assert.ok(mp4, JSON.stringify(m.artifacts));
    // The simulator's SaveVideo writes real media: the image scaled to 128×128, repeated 8 times at
    // 8 fps, with the WAV's sound (0.25 s, padded to the clip's 1 s).
    const clip = probe(join(m.workdir, mp4.path));
    assert.deepEqual(
      [clip.video?.codec, clip.video?.width, clip.video?.height, clip.video?.frames, clip.video?.fps, clip.audio?.codec],
      ['h264', 128, 128, 8, '8/1', 'aac'],
      'the image was scaled, repeated, and the WAV went in',
    );
  });

  it('workflow-lipsync-standin: an uploaded video goes through LoadVideo → GetVideoComponents with the WAV into a new mp4', async () => {
    const standin = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/comfyui/workflows/workflow-lipsync-standin.json'), 'utf8'));
    // A real video-only clip (a lip-sync replaces the audio anyway): 5 frames of 16×12 at 10 fps.
    const clipPath = join(tempDir(), 'face.mp4');
    makeClip(clipPath, 0.5, { size: '16x12', fps: 10 });
    const clip = readFileSync(clipPath);
    const form = new FormData();
    form.append('job', JSON.stringify({ workflow: standin, params: [{ node: '1', input: 'file', input_file: 'face' }, { node: '3', input: 'audio', input_file: 'voice' }] }));
    form.append('face', new Blob([new Uint8Array(clip)], { type: 'video/mp4' }), 'face.mp4');
    form.append('voice', new Blob([new Uint8Array(WAV)], { type: 'audio/wav' }), 'voice.wav');
    const id = await post(form);
    await vx.start(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.run_status, 'completed', JSON.stringify(end.error));
    const m = await vx.manifest(id);
    assert.equal(JSON.parse(readFileSync(join(m.workdir, 'workflow.json'), 'utf8'))['1'].inputs.file, `vidax/${id}/face.mp4`);
    const mp4 = m.artifacts.find((a: { path: string; phase: string }) => a.phase === 'comfyui' && a.path.endsWith('.mp4'));
    const out = probe(join(m.workdir, mp4.path));
    assert.deepEqual(
      [out.video?.codec, out.video?.width, out.video?.height, out.video?.frames, out.video?.fps, out.audio?.codec],
      ['h264', 16, 12, 5, '10/1', 'aac'],
      'the same frames, with the WAV as its new audio track',
    );
  });

  it('a URL input is fetched at prepare through the guard, hashed and listed with source url', async () => {
    const id = await post(JSON.stringify({
      workflow: video(), params,
      inputs: { face: { url: `${filesUrl}/face.png` }, voice: { base64: WAV.toString('base64'), filename: 'v.wav' } },
    }));
    await vx.start(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.run_status, 'completed', JSON.stringify(end.error));
    const m = await vx.manifest(id);
    assert.deepEqual(m.inputs, [
      { name: 'face', filename: 'face.png', bytes: PNG.length, sha256: sha(PNG), content_type: 'image/png', source: 'url' },
      { name: 'voice', filename: 'v.wav', bytes: WAV.length, sha256: sha(WAV), content_type: 'audio/wav', source: 'inline' },
    ]);
    assert.deepEqual(readFileSync(join(m.workdir, 'inputs', 'face')), PNG);
  });

  for (const [label, path, reason] of [
    ['a 404', '/missing.png', /HTTP 404/],
    ['a redirect to the metadata address', '/to-metadata', /redirect refused: .*169\.254\.169\.254.*(allow-list|metadata)/],
  ] as const) {
    it(`a URL input that fails (${label}) fails prepare with INPUT_FETCH_FAILED and the reason`, async () => {
      const id = await post(JSON.stringify({ workflow: video(), params, inputs: { face: { url: `${filesUrl}${path}` }, voice: { base64: WAV.toString('base64') } } }));
      await vx.start(id);
      const end = await vx.waitEnd(id);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.phases.prepare.status, 'failed');
      assert.equal(end.error.code, 'INPUT_FETCH_FAILED');
      assert.match(end.error.message, reason);
      assert.equal(end.error.details.input, 'face');
      const m = await vx.manifest(id);
      assert.ok(!existsSync(join(m.workdir, 'inputs', 'face')), 'no partial file');
      assert.equal(m.phases.comfyui.status, 'skipped');
    });
  }
});
