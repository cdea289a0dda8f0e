import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeFinal } from '../../lib/media/encode.ts';
import type { MediaEnv } from '../../lib/media/env.ts';
import { MediaAborted, MediaFailure } from '../../lib/media/ffmpeg.ts';
import { pickCurrent } from '../../lib/media/source.ts';
import { detectMediaTools } from '../../lib/media/tools.ts';
import { tempDir } from '../support/context.ts';
import { MEDIA_CONFIG, makeClip, makePng, makeWav, probe, realTools } from '../support/media.ts';

const env = async (workdir: string, more: Partial<MediaEnv> = {}): Promise<MediaEnv> => ({ workdir, tools: await realTools(), config: MEDIA_CONFIG, ...more });
const failsWith = async (p: Promise<unknown>, code: string) => {
  const err = await p.then(() => null, (e: unknown) => e);
  assert.ok(err instanceof MediaFailure, `expected a MediaFailure, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
};

describe('encode (real ffmpeg)', () => {
  it('frames → final.mp4: H.264 yuv420p at the given fps, one frame per image, +faststart', async () => {
    const dir = tempDir();
    const names = Array.from({ length: 30 }, (_, i) => `outputs/f_${String(i + 1).padStart(5, '0')}_.png`);
    for (const [i, n] of names.entries()) makePng(join(dir, n), 96, 64, i % 2 ? 'red' : 'blue');
    const current = await pickCurrent(dir, names.map((path) => ({ path })), 12);
    assert.equal(current?.kind, 'frames');
    const progress: unknown[] = [];
    const { media } = await encodeFinal(await env(dir, { onProgress: (p) => progress.push(p) }), current, { crf: 23, preset: 'veryfast' }, []);
    const p = probe(join(dir, 'final.mp4'));
    assert.deepEqual(
      { codec: p.video?.codec, pix_fmt: p.video?.pix_fmt, w: p.video?.width, h: p.video?.height, frames: p.video?.frames, fps: p.video?.fps },
      { codec: 'h264', pix_fmt: 'yuv420p', w: 96, h: 64, frames: 30, fps: '12/1' },
    );
    assert.ok(Math.abs(p.duration - 2.5) < 0.05, `duration ${p.duration}`);
    assert.equal(p.audio, undefined, 'no audio when none was given');
    assert.deepEqual([media.frames, media.fps, media.width, media.video_codec, media.bytes], [30, 12, 96, 'h264', statSync(join(dir, 'final.mp4')).size]);
    assert.ok(progress.length >= 1, 'ffmpeg progress reached the caller');
    // +faststart: the moov box comes before mdat.
    const head = readFileSync(join(dir, 'final.mp4')).subarray(0, 4096).toString('latin1');
    assert.ok(head.includes('moov'), 'the moov box is at the start (+faststart)');
    assert.deepEqual(readdirSync(dir).sort(), ['final.mp4', 'outputs'], 'no temp file or staging folder left');
  });

  it('a named audio input becomes AAC of the video\'s length (longer cut, shorter padded)', async () => {
    for (const [audioS, label] of [[5, 'longer'], [1, 'shorter']] as const) {
      const dir = tempDir();
      makeClip(join(dir, 'outputs/clip.mp4'), 2, { audio: false });
      makeWav(join(dir, 'inputs/voice.wav'), audioS);
      const current = await pickCurrent(dir, [{ path: 'outputs/clip.mp4' }], 24);
      const { media } = await encodeFinal(await env(dir), current, { audio: 'voice.wav', preset: 'ultrafast' }, []);
      const p = probe(join(dir, 'final.mp4'));
      assert.equal(p.audio?.codec, 'aac', label);
      assert.ok(Math.abs((p.audio?.duration ?? 0) - 2) < 0.1, `${label}: audio ${p.audio?.duration} s for a 2 s video`);
      assert.equal(media.audio_codec, 'aac');
    }
  });

  it('keeps the source video\'s own audio', async () => {
    const dir = tempDir();
    makeClip(join(dir, 'outputs/clip.mp4'), 1, { audio: true });
    const current = await pickCurrent(dir, [{ path: 'outputs/a.png' }, { path: 'outputs/clip.mp4' }], 24);
    assert.deepEqual(current, { kind: 'video', path: 'outputs/clip.mp4' }, 'a video wins over images');
    const { media } = await encodeFinal(await env(dir), current, { preset: 'ultrafast', width: 64, height: 48 }, []);
    assert.deepEqual([media.audio_codec, media.width, media.height], ['aac', 64, 48]);
  });

  it('ENCODE_NO_MEDIA names the outputs it saw', async () => {
    const dir = tempDir();
    const err = await failsWith(encodeFinal(await env(dir), null, {}, ['notes.txt', 'data.json']), 'ENCODE_NO_MEDIA');
    assert.match(err.message, /notes\.txt, data\.json/);
    assert.equal(existsSync(join(dir, 'final.mp4')), false);
  });

  it('empty, truncated and non-media files fail ENCODE_FAILED quickly, leaving nothing', async () => {
    const dir = tempDir();
    makeClip(join(dir, 'outputs/good.mp4'), 2);
    const good = readFileSync(join(dir, 'outputs/good.mp4'));
    writeFileSync(join(dir, 'outputs/empty.mp4'), '');
    writeFileSync(join(dir, 'outputs/cut.mp4'), good.subarray(0, Math.floor(good.length / 3)));
    writeFileSync(join(dir, 'outputs/text.mp4'), 'this is not a video at all\n'.repeat(100));
    writeFileSync(join(dir, 'outputs/junk.png'), Buffer.alloc(5000, 7));
    for (const [name, kind] of [['empty.mp4', 'video'], ['cut.mp4', 'video'], ['text.mp4', 'video'], ['junk.png', 'frames']] as const) {
      const started = Date.now();
      const current = kind === 'video' ? { kind, path: `outputs/${name}` } : { kind, paths: [`outputs/${name}`], fps: 24 };
      await failsWith(encodeFinal(await env(dir), current, {}, []), 'ENCODE_FAILED');
      assert.ok(Date.now() - started < 20_000, `${name} failed in ${Date.now() - started} ms`);
      assert.equal(existsSync(join(dir, 'final.mp4')), false, name);
    }
    assert.deepEqual(readdirSync(dir), ['outputs'], 'no temp or staging file left');
  });

  it('an abort kills ffmpeg at once and leaves no file', async () => {
    const dir = tempDir();
    makeClip(join(dir, 'outputs/long.mp4'), 20, { size: '640x360' });
    const ctl = new AbortController();
    const started = Date.now();
    const run = encodeFinal(await env(dir, { signal: ctl.signal, onProgress: () => ctl.abort({ kind: 'stopped' }) }), { kind: 'video', path: 'outputs/long.mp4' }, { preset: 'veryslow' }, []);
    const err = await run.then(() => null, (e: unknown) => e);
    assert.ok(err instanceof MediaAborted, String(err));
    assert.deepEqual(err.reason, { kind: 'stopped' });
    assert.ok(Date.now() - started < 15_000);
    assert.deepEqual(readdirSync(dir), ['outputs']);
  });

  it('a missing ffmpeg fails MEDIA_TOOL_MISSING and says what to install', async () => {
    const tools = await detectMediaTools({ ...MEDIA_CONFIG, ffmpeg: '/nonexistent/ffmpeg', ffprobe: '/nonexistent/ffprobe' });
    assert.equal(tools.ok, false);
    const dir = tempDir();
    makePng(join(dir, 'outputs/a.png'), 16, 16);
    const err = await failsWith(encodeFinal({ workdir: dir, tools, config: MEDIA_CONFIG }, { kind: 'frames', paths: ['outputs/a.png'], fps: 24 }, {}, []), 'MEDIA_TOOL_MISSING');
    assert.match(err.message, /apt-get install -y ffmpeg/);
  });

  it('detects this machine\'s ffmpeg: version, libvidstab, libx264, aac', async () => {
    const t = await realTools();
    assert.equal(t.ok, true, t.problems.join('; '));
    assert.match(t.ffmpeg?.version ?? '', /^\d/);
    assert.equal(t.vidstab, true);
    assert.ok(t.encoders.includes('libx264') && t.encoders.includes('aac'));
    assert.equal(t.encoder, 'libx264');
  });
});
