import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pickCurrent } from '../../lib/media/source.ts';
import { tempDir } from '../support/context.ts';
import { ffmpeg, makePng } from '../support/media.ts';

/** The PNG at `path` with a `tEXt` chunk of `bytes` inserted right after IHDR (as ComfyUI's workflow metadata). */
function withText(path: string, bytes: number, out: string): void {
  const png = readFileSync(path);
  const afterIhdr = 8 + 12 + png.readUInt32BE(8);
  const chunk = Buffer.alloc(12 + bytes, 0x61);
  chunk.writeUInt32BE(bytes, 0);
  chunk.write('tEXt', 4, 'latin1');
  chunk.writeUInt32BE(0, 8 + bytes); // CRC not checked here
  writeFileSync(out, Buffer.concat([png.subarray(0, afterIhdr), chunk, png.subarray(afterIhdr)]));
}

describe('pickCurrent: the current video after the comfyui phase', () => {
  it('an animated PNG is a video, also behind megabytes of metadata; still PNGs are frames', async () => {
    const dir = tempDir();
    makePng(join(dir, 'outputs/still.png'), 16, 16);
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=16x16:rate=5:duration=1', '-plays', '0', '-f', 'apng', join(dir, 'outputs/anim.png')]);
    withText(join(dir, 'outputs/still.png'), 3 << 20, join(dir, 'outputs/still-meta.png'));
    withText(join(dir, 'outputs/anim.png'), 3 << 20, join(dir, 'outputs/anim-meta.png'));
    const pick = (...names: string[]) => pickCurrent(dir, names.map((n) => ({ path: `outputs/${n}` })), 24);
    assert.deepEqual(await pick('still.png', 'still-meta.png'), { kind: 'frames', paths: ['outputs/still.png', 'outputs/still-meta.png'], fps: 24 });
    assert.deepEqual(await pick('still.png', 'anim.png'), { kind: 'video', path: 'outputs/anim.png' });
    assert.deepEqual(await pick('still-meta.png', 'anim-meta.png'), { kind: 'video', path: 'outputs/anim-meta.png' }, 'acTL found behind 3 MB of text chunks');
    assert.equal(await pick('notes.txt'), null);
  });
});
