import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readMp4Head } from '../../lib/media/mp4-head.ts';
import { tempDir } from '../support/context.ts';
import { ffmpeg, probe } from '../support/media.ts';

describe('readMp4Head (MP4/MOV header read in-process, as ffprobe sees it)', () => {
  it('duration, video and sound agree with ffprobe; anything it is not sure of is null', async () => {
    const dir = tempDir();
    const v = ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=2'];
    const a = (s: number) => ['-f', 'lavfi', '-i', `sine=duration=${s}`];
    const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
    ffmpeg([...v, ...a(2), ...x264, '-c:a', 'aac', join(dir, 'av.mp4')]);
    ffmpeg([...v, ...a(3), ...x264, '-c:a', 'aac', '-movflags', '+faststart', join(dir, 'longer-audio-faststart.mp4')]);
    ffmpeg([...v, ...x264, join(dir, 'silent.mp4')]);
    ffmpeg([...v, ...a(1), ...x264, '-c:a', 'aac', join(dir, 'clip.mov')]);
    ffmpeg([...v, ...x264, '-movflags', 'frag_keyframe+empty_moov', join(dir, 'fragmented.mp4')]);
    ffmpeg([...v, ...x264, join(dir, 'clip.mkv')]);
    ffmpeg([...a(1), '-c:a', 'aac', join(dir, 'sound-only.mp4')]);
    const whole = readFileSync(join(dir, 'av.mp4'));
    writeFileSync(join(dir, 'cut.mp4'), whole.subarray(0, whole.length >> 1)); // moov at the end: cut off
    writeFileSync(join(dir, 'junk.mp4'), Buffer.alloc(4096, 7));
    writeFileSync(join(dir, 'empty.mp4'), '');
    for (const name of ['av.mp4', 'longer-audio-faststart.mp4', 'silent.mp4', 'clip.mov']) {
      const p = probe(join(dir, name));
      assert.deepEqual(await readMp4Head(join(dir, name)), { duration_s: Math.round(p.duration * 1000) / 1000, video: true, audio: p.audio !== undefined }, name);
    }
    for (const name of ['fragmented.mp4', 'clip.mkv', 'sound-only.mp4', 'cut.mp4', 'junk.mp4', 'empty.mp4', 'missing.mp4']) {
      assert.equal(await readMp4Head(join(dir, name)), null, name);
    }
  });
});
