// kill -9 of the real VIDAX process during each media phase (stabilize, lipsync, encode) of one
// run, on the simulator with real ffmpeg: each time VIDAX is restarted over the same runs dir,
// the cut phase runs again from its input (lipsync re-attaches its prompt), and the run ends
// `success` with a playable final.mp4, no temp file and no ffmpeg of a killed VIDAX left running.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { killLeftovers } from '../../lib/media/leftovers.ts';
import { ffmpeg, makeWav, probe, realTools } from '../support/media.ts';
import { crashBed, KEY } from './support/proc.ts';
import { inspectRunsDir } from './support/runs-dir.ts';

const SECONDS = 6;
const FPS = 24;
const FRAMES = SECONDS * FPS;
const PHASES = ['stabilize', 'lipsync', 'encode'] as const;
type Phase = (typeof PHASES)[number];

/** LoadVideo → GetVideoComponents (→ slow steps) → CreateVideo with the WAV → SaveVideo. */
const clipWorkflow = (prefix: string, slowSteps = 0) => ({
  '1': { class_type: 'LoadVideo', inputs: { file: 'placeholder.mp4' } },
  '2': { class_type: 'GetVideoComponents', inputs: { video: ['1', 0] } },
  '3': { class_type: 'LoadAudio', inputs: { audio: 'placeholder.wav' } },
  ...(slowSteps > 0 ? { '6': { class_type: 'VidaxSlowSteps', inputs: { images: ['2', 0], steps: slowSteps, step_ms: 100 } } } : {}),
  '4': { class_type: 'CreateVideo', inputs: { images: [slowSteps > 0 ? '6' : '2', 0], fps: ['2', 2], audio: ['3', 0] } },
  '5': { class_type: 'SaveVideo', inputs: { video: ['4', 0], filename_prefix: prefix, format: 'mp4', codec: 'h264' } },
});

/** pids of `comm` processes whose parent is `ppid` (Linux /proc). */
function childrenOf(ppid: number, comm: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) (\S) (\d+)/s.exec(stat);
      if (m && m[1] === comm && m[2] !== 'Z' && Number(m[3]) === ppid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
const running = (pid: number) => {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

const readJson = (path: string) => {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null; // between writes (atomic rename: never torn, but may be missing for a moment)
  }
};
const events = (workdir: string) =>
  readFileSync(join(workdir, 'logs', 'events.jsonl'), 'utf8').split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as { type: string; phase?: string; rerun?: boolean; leftovers_killed?: number }];
    } catch {
      return []; // a torn last line
    }
  });

describe('kill -9 during each media phase (real process, real ffmpeg)', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  const bed = crashBed('vidax-media-crash-');

  it('stabilize, lipsync and encode each cut by a kill -9: re-run at recovery, the run completes with a playable final.mp4', { timeout: 5 * 60_000 }, async () => {
    const base = bed.base;
    // A small but busy clip (moving picture + noise: x264 and vidstab have real work), 6 s at 24 fps.
    const clipPath = join(base, 'clip.mp4');
    ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}:duration=${SECONDS},noise=alls=25:allf=t`, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', clipPath]);
    makeWav(join(base, 'voice.wav'), SECONDS);
    const setpriv = (await realTools()).setpriv ?? null;
    let vx = await bed.start();
    const form = new FormData();
    form.append('job', JSON.stringify({
      workflow: clipWorkflow('clip'),
      params: [{ node: '1', input: 'file', input_file: 'clip' }, { node: '3', input: 'audio', input_file: 'voice' }],
      phases: {
        stabilize: { enabled: true },
        lipsync: { enabled: true, workflow: clipWorkflow('lipsync', 20), video: { node: '1', input: 'file' }, audio: { node: '3', input: 'audio', input_file: 'voice' } },
        encode: { preset: 'slow' }, // a few seconds of x264 on this clip: room to land the kill
      },
    }));
    form.append('clip', new Blob([new Uint8Array(readFileSync(clipPath))], { type: 'video/mp4' }), 'clip.mp4');
    form.append('voice', new Blob([new Uint8Array(readFileSync(join(base, 'voice.wav')))], { type: 'audio/wav' }), 'voice.wav');
    const created = await fetch(`${vx.url}/jobs`, { method: 'POST', headers: { 'x-api-key': KEY }, body: form });
    assert.equal(created.status, 202, await created.clone().text());
    const { run_id: id, workdir } = (await created.json()) as { run_id: string; workdir: string };
    const started = await fetch(`${vx.url}/jobs/${id}/start`, { method: 'POST', headers: { 'x-api-key': KEY } });
    assert.equal(started.status, 202, await started.text());

    const kills: { phase: Phase; ffmpeg: number[]; ms: number }[] = [];
    for (const phase of PHASES) {
      // Wait until the phase is really at work: its ffmpeg runs (stabilize, encode), or its
      // prompt is queued in ComfyUI (lipsync); then SIGKILL VIDAX.
      const deadline = Date.now() + 120_000;
      let ffmpegPids: number[] = [];
      for (;;) {
        const m = readJson(join(workdir, 'manifest.json'));
        assert.notEqual(m?.run_status, 'failed', `the run failed before the ${phase} kill: ${JSON.stringify(m?.error)}`);
        assert.notEqual(m?.phases?.[phase]?.status, 'completed', `${phase} completed before the kill could land (make it longer)`);
        if (m?.phases?.[phase]?.status === 'running') {
          if (phase === 'lipsync') {
            if (events(workdir).some((e) => e.type === 'lipsync.queued')) break;
          } else {
            ffmpegPids = childrenOf(vx.pid, 'ffmpeg');
            if (ffmpegPids.length > 0) break;
          }
        }
        assert.ok(Date.now() < deadline, `${phase} did not start within 120 s`);
        await sleep(20);
      }
      const t0 = Date.now();
      await vx.kill();
      kills.push({ phase, ffmpeg: ffmpegPids, ms: 0 });
      // The ffmpeg of the killed VIDAX dies with it (setpriv --pdeathsig: at once), it does not
      // run on until its next progress write fails (test/media/leftovers.test.ts shows one that
      // writes nothing running on). Without setpriv, recovery kills it (checked below).
      for (const pid of setpriv ? ffmpegPids : []) {
        while (running(pid) && Date.now() - t0 < 500) await sleep(5);
        assert.equal(running(pid), false, `ffmpeg ${pid} of the killed VIDAX still runs ${Date.now() - t0} ms after the kill (${phase})`);
      }
      kills[kills.length - 1]!.ms = Date.now() - t0;
      vx = await bed.start();
    }

    // The last restart finishes the run.
    type Summary = { run_status: string; exit_status: string; error: unknown; phases: Record<string, { status: string }> };
    const summary = async () => (await (await fetch(`${vx.url}/jobs/${id}`, { headers: { 'x-api-key': KEY } })).json()) as Summary;
    let end = await summary();
    for (const deadline = Date.now() + 120_000; end.run_status === 'running' && Date.now() < deadline; end = await summary()) await sleep(100);
    assert.equal(end.run_status, 'completed', JSON.stringify(end.error));
    assert.equal(end.exit_status, 'success');
    for (const p of ['prepare', 'comfyui', ...PHASES]) assert.equal(end.phases[p]?.status, 'completed', p);

    // Each cut phase started again after a restart (`rerun`), from its input.
    const log = events(workdir);
    for (const phase of PHASES) {
      const starts = log.filter((e) => e.type === 'phase.started' && e.phase === phase);
      assert.equal(starts.length, 2, `${phase}: started once, then once more after the kill`);
      assert.equal(starts[0]?.rerun, undefined);
      assert.equal(starts[1]?.rerun, true, `${phase}: the second start says it is a re-run`);
      if (setpriv) assert.equal(starts[1]?.leftovers_killed, 0, `${phase}: no ffmpeg of the killed VIDAX was left to kill at recovery`);
    }
    assert.equal(log.filter((e) => e.type === 'run.reattached').length, 3, 'recovery took the run up after each kill');
    assert.ok(log.some((e) => e.type === 'lipsync.reattached'), 'the lipsync prompt queued before the kill was re-attached, not sent again');
    assert.equal(log.filter((e) => e.type === 'run.completed').length, 1, 'one terminal event');

    // Nothing left behind: no temp file, no staging folder, no ffmpeg working in the run dir.
    assert.deepEqual(inspectRunsDir(join(base, 'runs')).tempFiles, []);
    for (const dir of ['stabilize', 'lipsync', 'encode']) assert.equal(existsSync(join(workdir, dir, 'in')), false, `${dir}/in: staging left`);
    assert.deepEqual(await killLeftovers(workdir, ['ffmpeg', 'ffprobe']), [], 'an ffmpeg still works in the run dir');

    // final.mp4 holds every frame of the lipsync output it was encoded from: the clip's 144.
    const manifest = readJson(join(workdir, 'manifest.json'));
    const lipsynced = probe(join(workdir, manifest.phases.lipsync.output));
    const p = probe(join(workdir, 'final.mp4'));
    assert.deepEqual([p.video?.codec, p.video?.pix_fmt, p.video?.width, p.video?.height, p.video?.frames, p.audio?.codec], ['h264', 'yuv420p', 320, 240, lipsynced.video?.frames, 'aac']);
    assert.equal(p.video?.frames, FRAMES, `final.mp4 has ${p.video?.frames} frames`);
    assert.ok(Math.abs(p.duration - SECONDS) < 0.1, `final.mp4 lasts ${p.duration} s`);
    console.log(`media kill -9: ${kills.map((k) => `${k.phase} (${k.ffmpeg.length} ffmpeg of the killed VIDAX gone ${k.ms} ms after the kill)`).join(', ')}; run ${id} completed success, ${FRAMES} frames`);
  });
});
