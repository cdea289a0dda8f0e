// The simulator's real media (ffmpeg): LoadVideo gives every frame of a file once, as ComfyUI does.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeVideo } from '../../simulator/media.ts';
import { tempDir } from '../support/context.ts';

const ffmpeg = (cwd: string, args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-y', '-v', 'error', ...args], { cwd });
const packets = (cwd: string, file: string) =>
  Number(execFileSync('ffprobe', ['-v', 'error', '-count_packets', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file], { cwd }).toString().trim());

describe('simulator media', () => {
  it('decodes each frame of a Matroska file once with its sound (144 frames in, 144 out; a constant-rate decode made 145)', async () => {
    const dir = tempDir('vidax-sim-media-');
    // As stabilize's intermediate is made: 6 s at 24 fps, H.264 + AAC in Matroska (millisecond timestamps).
    ffmpeg(dir, ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=24:duration=6', '-f', 'lavfi', '-i', 'sine=duration=6', '-c:v', 'libx264', '-c:a', 'aac', '-shortest', 'a.mp4']);
    ffmpeg(dir, ['-i', 'a.mp4', '-map', '0:v:0', '-map', '0:a?', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '12', '-c:a', 'copy', '-f', 'matroska', 'a.mkv']);
    assert.equal(packets(dir, 'a.mkv'), 144);
    const { frames, fps } = await decodeVideo(join(dir, 'a.mkv'));
    assert.equal(frames.length, 144);
    assert.equal(fps, 24);
    assert.equal(frames[0]?.rgb.length, 320 * 240 * 3);
  });
});
