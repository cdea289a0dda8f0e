import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { MediaEnv } from '../../lib/media/env.ts';
import { MediaFailure } from '../../lib/media/ffmpeg.ts';
import { lipsyncVideo } from '../../lib/media/lipsync-video.ts';
import { tempDir } from '../support/context.ts';
import { ffmpeg, MEDIA_CONFIG, makeClip, probe, realTools } from '../support/media.ts';

const env = async (workdir: string, more: Partial<MediaEnv> = {}): Promise<MediaEnv> => ({ workdir, tools: await realTools(), config: MEDIA_CONFIG, ...more });
const IN = join('lipsync', 'in');

describe('lipsync video (the clip a lip-sync workflow gets; real ffmpeg)', () => {
  for (const ext of ['.mp4', '.mkv']) {
    it(`a ${ext} with sound → its video stream alone, not re-encoded, under a name VIDAX chose`, async () => {
      const dir = tempDir();
      makeClip(join(dir, `outputs/clip${ext}`), 1, { fps: 12, audio: true, size: '64x48' });
      assert.equal(probe(join(dir, `outputs/clip${ext}`)).audio?.codec, 'aac');
      mkdirSync(join(dir, IN), { recursive: true });
      const rel = await lipsyncVideo(await env(dir), `outputs/clip${ext}`, IN);
      assert.equal(rel, join(IN, `lipsync-video${ext}`));
      const p = probe(join(dir, rel));
      assert.equal(p.audio, undefined, 'no audio track');
      assert.deepEqual([p.video?.codec, p.video?.width, p.video?.frames, p.video?.fps], ['h264', 64, 12, '12/1']);
      assert.deepEqual(readdirSync(join(dir, IN)), [`lipsync-video${ext}`], 'no temp file or staged source left');
      assert.equal(probe(join(dir, `outputs/clip${ext}`)).audio?.codec, 'aac', 'the artifact itself is untouched');
    });
  }

  it('a GIF (no sound) is handed over as it is; so is any video when ffmpeg is missing', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'outputs'), { recursive: true });
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=32x32:rate=4:duration=1', join(dir, 'outputs/a.gif')]);
    makeClip(join(dir, 'outputs/clip.mp4'), 1, { audio: true, size: '32x32' });
    mkdirSync(join(dir, IN), { recursive: true });
    const gif = await lipsyncVideo(await env(dir), 'outputs/a.gif', IN);
    assert.equal(statSync(join(dir, gif)).ino, statSync(join(dir, 'outputs/a.gif')).ino, 'a hard link');
    const noTools = { ...(await realTools()), ffmpeg: null };
    const mp4 = await lipsyncVideo(await env(dir, { tools: noTools }), 'outputs/clip.mp4', IN);
    assert.deepEqual(readFileSync(join(dir, mp4)), readFileSync(join(dir, 'outputs/clip.mp4')));
  });

  it('a file ffmpeg cannot read fails LIPSYNC_FAILED with its last lines, leaving nothing behind', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'outputs'), { recursive: true });
    writeFileSync(join(dir, 'outputs/broken.mp4'), 'not a video at all');
    mkdirSync(join(dir, IN), { recursive: true });
    const err = await lipsyncVideo(await env(dir), 'outputs/broken.mp4', IN).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof MediaFailure, String(err));
    assert.equal(err.code, 'LIPSYNC_FAILED');
    assert.match(err.message, /video-only copy/);
    assert.deepEqual(readdirSync(join(dir, IN)), []);
  });
});
