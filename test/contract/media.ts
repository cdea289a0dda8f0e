// The media scenarios of the contract suite: stabilize, the lip-sync stand-in as the lipsync phase,
// encode to a playable final.mp4 downloaded over HTTP, and all of them in one run (issue 13's end
// to end). Registered inside contractSuite's describe, so they run on the simulator and on a real
// ComfyUI alike. Media is tiny (128 px, 1–2 s): a real ComfyUI here runs on 2 shared CPU cores.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { encodePng, solidFrame } from '../../simulator/png.ts';
import type { Json, Vidax } from './harness.ts';
import type { Target } from './targets.ts';
import { ffmpeg, probe } from '../support/media.ts';
import { fixture, freshColour, meanVolume, sha256, wav } from './util.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} ± ${tolerance}`);
/** How far (dB) a sound's mean volume may move on its way through ComfyUI and encode (a real ComfyUI: about -3 dB). */
const LEVEL_DB = 4.5;
const rate = (r: string) => {
  const [a, b] = r.split('/').map(Number);
  return (a ?? 0) / (b || 1);
};

/** LoadVideo → GetVideoComponents → CreateVideo (same fps, no audio) → SaveVideo: the clip passed through. */
function passThrough(): Record<string, Json> {
  return {
    '1': { class_type: 'LoadVideo', inputs: { file: 'in.mp4' } },
    '2': { class_type: 'GetVideoComponents', inputs: { video: ['1', 0] } },
    '3': { class_type: 'CreateVideo', inputs: { images: ['2', 0], fps: ['2', 2] } },
    '4': { class_type: 'SaveVideo', inputs: { video: ['3', 0], filename_prefix: 'shaky', format: 'mp4', codec: 'h264' } },
  };
}

/** A 2 s, 12 fps, 128×128 H.264 clip of testsrc shaken by per-frame crop offsets (no audio). */
function shakyClip(dir: string): Buffer {
  const out = join(dir, `shaky-${process.pid}.mp4`);
  ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc=size=176x176:rate=12:duration=2',
    '-vf', "crop=128:128:x='24+20*sin(n*1.9)':y='24+20*cos(n*2.7)'",
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-an', '-f', 'mp4', out,
  ]);
  return readFileSync(out);
}

/** Every artifact of the manifest is on disk with the recorded bytes and sha256. */
function checkArtifacts(m: Json): void {
  for (const a of m.artifacts) {
    const file = readFileSync(join(m.workdir, a.path));
    assert.equal(a.bytes, file.length, a.path);
    assert.equal(a.sha256, sha256(file), a.path);
  }
}

interface Expected {
  width: number;
  height: number;
  frames: number;
  fps: number;
  duration: number;
  /** AAC audio expected (an audio input was named), else none. */
  audio: boolean;
}

/**
 * GET /jobs/:id/final.mp4 with the key: 200, video/mp4, the ETag of its sha256; ffprobe of the
 * downloaded bytes shows a playable H.264 yuv420p (+ AAC) of the expected shape, and the
 * manifest's `media` block says the same. Returns the downloaded file.
 */
async function checkFinal(t: Target, vx: Vidax, m: Json, e: Expected): Promise<string> {
  const res = await vx.download(`/jobs/${m.run_id}/final.mp4`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'video/mp4');
  const media = m.phases.encode.media;
  assert.equal(res.headers.get('etag'), `"${media.sha256}"`);
  assert.equal(sha256(res.bytes), media.sha256);
  assert.equal(res.bytes.length, media.bytes);
  assert.deepEqual(m.artifacts.filter((a: Json) => a.phase === 'encode').map((a: Json) => [a.path, a.sha256]), [['final.mp4', media.sha256]]);
  const file = join(t.base, `${m.run_id}-final.mp4`);
  writeFileSync(file, res.bytes);
  const p = probe(file);
  const v = p.video;
  assert.ok(v, 'a video stream');
  assert.equal(String(p.format).split(',')[0], 'mov', 'an MP4 (ISO BMFF) container');
  assert.deepEqual([v.codec, v.pix_fmt, v.width, v.height, v.frames], ['h264', 'yuv420p', e.width, e.height, e.frames]);
  near(rate(String(v.fps)), e.fps, 0.01, 'fps');
  near(p.duration, e.duration, 0.15, 'duration');
  // The moov atom comes first (+faststart): a player can start before the whole file is there.
  assert.ok(res.bytes.indexOf('moov', 0, 'latin1') < res.bytes.indexOf('mdat', 0, 'latin1'), 'moov before mdat');
  if (e.audio) {
    assert.equal(p.audio?.codec, 'aac', 'AAC audio');
    near(p.audio.duration, e.duration, 0.15, 'audio duration');
  } else assert.equal(p.audio, undefined, 'no audio stream');
  // The manifest's media block is what ffprobe sees.
  assert.deepEqual(
    [media.video_codec, media.pix_fmt, media.width, media.height, media.frames, media.audio_codec],
    [v.codec, v.pix_fmt, v.width, v.height, v.frames, p.audio?.codec ?? null],
  );
  near(media.fps, rate(String(v.fps)), 0.01, 'media.fps');
  near(media.duration_s, p.duration, 0.01, 'media.duration_s');
  return file;
}

/** Registers the media scenarios; `get` gives the suite's target and VIDAX once `before` ran. */
export function mediaScenarios(get: () => { t: Target; vx: Vidax }) {
  it('stabilize + encode: a shaky clip uploaded and passed through ComfyUI is stabilized (an artifact with sha256) and encoded to a playable final.mp4 with the named WAV', async () => {
    const { t, vx } = get();
    const clip = shakyClip(t.base);
    const music = wav(3, 16_000, { hz: 330, amplitude: 4000 });
    const id = await vx.createWithFiles(
      {
        workflow: passThrough(),
        params: [{ node: '1', input: 'file', input_file: 'clip' }],
        phases: { stabilize: { enabled: true, shakiness: 8, smoothing: 10 }, encode: { crf: 23, preset: 'veryfast', width: 96, audio: 'music' } },
      },
      { clip: { bytes: clip, filename: 'clip.mp4', type: 'video/mp4' }, music: { bytes: music, filename: 'music.wav', type: 'audio/wav' } },
    );
    await vx.startRun(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.exit_status, 'success', JSON.stringify(end.error));
    const m = await vx.manifest(id);
    assert.deepEqual(Object.entries(m.phases).map(([k, p]) => [k, (p as Json).status]), [
      ['prepare', 'completed'], ['comfyui', 'completed'], ['stabilize', 'completed'], ['lipsync', 'skipped'], ['encode', 'completed'],
    ]);
    const [clipOut] = m.artifacts.filter((a: Json) => a.phase === 'comfyui').map((a: Json) => a.path);
    assert.match(clipOut, /^outputs\/shaky_\d+_\.mp4$/);
    // Stabilize worked on ComfyUI's clip; its intermediate and transforms are artifacts with sha256.
    const st = m.phases.stabilize;
    assert.equal(st.output, 'stabilize/stabilized.mkv');
    assert.equal(st.frames, 24);
    assert.deepEqual(st.options, { shakiness: 8, smoothing: 10, zoom: 0 });
    assert.deepEqual(m.artifacts.filter((a: Json) => a.phase === 'stabilize').map((a: Json) => a.path).sort(), ['stabilize/stabilized.mkv', 'stabilize/transforms.trf']);
    checkArtifacts(m);
    const stabilized = probe(join(m.workdir, st.output)).video;
    assert.deepEqual([stabilized?.codec, stabilized?.width, stabilized?.frames], ['h264', 128, 24]);
    assert.equal(m.phases.encode.source, st.output, 'encode took the stabilized clip');
    // 2 s at 12 fps, scaled to 96 wide; the 3 s WAV cut to the video's 2 s.
    await checkFinal(t, vx, m, { width: 96, height: 96, frames: 24, fps: 12, duration: 2, audio: true });
  });

  it('lip-sync stand-in as the lipsync phase: ComfyUI gets the clip without its sound and the WAV; the result carries the new audio', async () => {
    const { t, vx } = get();
    const face = encodePng(solidFrame(32, 24, freshColour()));
    const voice = wav(1, 16_000); // 440 Hz, loud: the sound of ComfyUI's first clip
    const dub = wav(2, 16_000, { hz: 660, amplitude: 2000 }); // 660 Hz, 12 dB quieter: the new sound
    const standin = fixture('workflow-lipsync-standin');
    const id = await vx.createWithFiles(
      {
        workflow: fixture('workflow-video'),
        params: [{ node: '1', input: 'image', input_file: 'face' }, { node: '4', input: 'audio', input_file: 'voice' }],
        phases: { lipsync: { enabled: true, workflow: standin, video: { node: '1', input: 'file' }, audio: { node: '3', input: 'audio', input_file: 'dub' } } },
      },
      {
        face: { bytes: face, filename: 'face.png', type: 'image/png' },
        voice: { bytes: voice, filename: 'voice.wav', type: 'audio/wav' },
        dub: { bytes: dub, filename: 'dub.wav', type: 'audio/wav' },
      },
    );
    await vx.startRun(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.exit_status, 'success', `${JSON.stringify(end.error)}\n${vx.comfyuiLog()}`);
    const m = await vx.manifest(id);
    assert.deepEqual(Object.entries(m.phases).map(([k, p]) => [k, (p as Json).status]), [
      ['prepare', 'completed'], ['comfyui', 'completed'], ['stabilize', 'skipped'], ['lipsync', 'completed'], ['encode', 'completed'],
    ]);
    const l = m.phases.lipsync;
    assert.match(l.prompt_id, UUID);
    assert.notEqual(l.prompt_id, m.phases.comfyui.prompt_id);
    assert.match(l.output, /^lipsync\/outputs\/[^/]+\.mp4$/);
    assert.deepEqual(m.artifacts.filter((a: Json) => a.phase === 'lipsync').map((a: Json) => a.path), [l.output]);
    checkArtifacts(m);
    // What VIDAX sent: its own uploads under vidax/<run_id>/, prefixes moved under it.
    const sent = JSON.parse(readFileSync(join(m.workdir, 'lipsync', 'workflow.json'), 'utf8'));
    assert.match(sent['1'].inputs.file, new RegExp(`^vidax/${id}/[^/]+\\.mp4$`));
    assert.match(sent['3'].inputs.audio, new RegExp(`^vidax/${id}/`));
    assert.ok(sent['5'].inputs.filename_prefix.startsWith(`vidax/${id}/lipsync/`), sent['5'].inputs.filename_prefix);
    if (t.inputDir) {
      // The clip ComfyUI got is the comfyui phase's video stream alone (a lip-sync replaces the
      // sound; PyAV 10 on the CPU ComfyUI cannot open a video with an audio track); the WAV as sent.
      const got = probe(join(t.inputDir, sent['1'].inputs.file));
      assert.equal(got.audio, undefined, 'the clip uploaded for lipsync has no audio track');
      assert.deepEqual([got.video?.codec, got.video?.frames], ['h264', 8]);
      assert.deepEqual(readFileSync(join(t.inputDir, sent['3'].inputs.audio)), dub);
    }
    assert.equal(m.phases.encode.source, l.output, 'final.mp4 is encoded from the lip-synced clip');
    const final = await checkFinal(t, vx, m, { width: 128, height: 128, frames: 8, fps: 8, duration: 1, audio: true });
    // The sound of final.mp4 is the dub's (-27 dB), not the first voice's (-15 dB). A real ComfyUI's
    // audio path (mono WAV → stereo AAC) lowers the level by about 3 dB: hence the tolerance.
    const [got, want, old] = [meanVolume(final), meanVolume(join(m.workdir, 'inputs', 'dub')), meanVolume(join(m.workdir, 'inputs', 'voice'))];
    near(got, want, LEVEL_DB, 'mean volume of final.mp4 against the dub');
    assert.ok(Math.abs(got - old) > 8, `final.mp4 still sounds like the first voice (${got} dB vs ${old} dB)`);
  });

  it('end to end (issue 13): image + audio uploaded, workflow-video, stabilize, lip-sync stand-in, encode → a playable final.mp4 over HTTP', async () => {
    const { t, vx } = get();
    const face = encodePng(solidFrame(48, 48, freshColour()));
    const voice = wav(1.5, 16_000, { hz: 550, amplitude: 6000 });
    const id = await vx.createWithFiles(
      {
        name: 'contract e2e',
        workflow: fixture('workflow-video'),
        params: [{ node: '1', input: 'image', input_file: 'face' }, { node: '4', input: 'audio', input_file: 'voice' }],
        phases: {
          stabilize: { enabled: true },
          lipsync: { enabled: true, workflow: fixture('workflow-lipsync-standin'), video: { node: '1', input: 'file' }, audio: { node: '3', input: 'audio', input_file: 'voice' } },
          encode: { crf: 20, preset: 'veryfast' },
        },
      },
      { face: { bytes: face, filename: 'face.png', type: 'image/png' }, voice: { bytes: voice, filename: 'voice.wav', type: 'audio/wav' } },
    );
    await vx.startRun(id);
    const end = await vx.waitEnd(id);
    assert.equal(end.run_status, 'completed', `${JSON.stringify(end.error)}\n${vx.comfyuiLog()}`);
    assert.equal(end.exit_status, 'success');
    const m = await vx.manifest(id);
    assert.deepEqual(Object.values(m.phases).map((p) => (p as Json).status), ['completed', 'completed', 'completed', 'completed', 'completed']);
    // Each phase took the previous one's video: comfyui mp4 → stabilized mkv → lip-synced mp4 → final.mp4.
    const comfyClip = m.artifacts.find((a: Json) => a.phase === 'comfyui' && a.path.endsWith('.mp4'))?.path;
    assert.ok(comfyClip, JSON.stringify(m.artifacts));
    assert.equal(m.phases.stabilize.output, 'stabilize/stabilized.mkv');
    assert.match(m.phases.lipsync.output, /^lipsync\/outputs\/[^/]+\.mp4$/);
    assert.equal(m.phases.encode.source, m.phases.lipsync.output);
    assert.deepEqual([...new Set(m.artifacts.map((a: Json) => a.phase))].sort(), ['comfyui', 'encode', 'lipsync', 'stabilize']);
    checkArtifacts(m);
    const sent = JSON.parse(readFileSync(join(m.workdir, 'lipsync', 'workflow.json'), 'utf8'));
    assert.match(sent['1'].inputs.file, new RegExp(`^vidax/${id}/[^/]+\\.mkv$`), 'lipsync got the stabilized clip');
    if (t.inputDir) assert.equal(probe(join(t.inputDir, sent['1'].inputs.file)).audio, undefined, 'without its sound');
    // GET /jobs/:id/artifacts lists every phase's files with the same hashes.
    const listed = (await vx.request('GET', `/jobs/${id}/artifacts`)).body.artifacts;
    for (const a of m.artifacts) assert.ok(listed.some((x: Json) => x.path === a.path && x.sha256 === a.sha256), a.path);
    // 8 frames of 128×128 at 8 fps (workflow-video), the voice's sound cut to the clip's second.
    const final = await checkFinal(t, vx, m, { width: 128, height: 128, frames: 8, fps: 8, duration: 1, audio: true });
    near(meanVolume(final), meanVolume(join(m.workdir, 'inputs', 'voice')), LEVEL_DB, 'mean volume of final.mp4 against the voice');
  });
}
