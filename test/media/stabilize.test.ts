import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MediaFailure } from '../../lib/media/ffmpeg.ts';
import { stabilize } from '../../lib/media/stabilize.ts';
import { tempDir } from '../support/context.ts';
import { ffmpeg, MEDIA_CONFIG, probe, realTools } from '../support/media.ts';

/** Mean luma of the frame-to-frame difference: how much the picture moves between frames. */
function motion(path: string): number {
  const out = execFileSync(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-v', 'error', '-i', path, '-vf', 'tblend=all_mode=difference,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-', '-f', 'null', '-'],
    { encoding: 'utf8' },
  );
  const values = [...out.matchAll(/YAVG=([\d.]+)/g)].map((m) => Number(m[1]));
  assert.ok(values.length > 10, `measured ${values.length} frame pairs`);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

describe('stabilize (real ffmpeg + libvidstab)', () => {
  it('a synthetic shaky clip comes out with measurably less frame-to-frame motion', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'outputs'));
    // testsrc with a per-frame crop offset: the whole picture jumps by up to ±24 px every frame.
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=384x288:rate=24:duration=3', '-vf', "crop=320:240:x='32+24*sin(n*1.9)':y='24+18*cos(n*2.7)'", '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', join(dir, 'outputs/shaky.mp4')]);
    const progress: (number | null)[] = [];
    const done = await stabilize(
      { workdir: dir, tools: await realTools(), config: MEDIA_CONFIG, onProgress: (p) => progress.push(p.ratio) },
      { kind: 'video', path: 'outputs/shaky.mp4' },
      { shakiness: 8, smoothing: 10 },
    );
    assert.equal(done.path, 'stabilize/stabilized.mkv');
    const before = motion(join(dir, 'outputs/shaky.mp4'));
    const after = motion(join(dir, done.path));
    assert.ok(after / before < 0.6, `motion ${before.toFixed(1)} → ${after.toFixed(1)} (ratio ${(after / before).toFixed(2)}), expected < 0.6`);
    const p = probe(join(dir, done.path));
    assert.equal(p.video?.frames, 72, 'every frame kept');
    assert.deepEqual([p.video?.width, p.video?.height], [320, 240]);
    assert.deepEqual(readdirSync(join(dir, 'stabilize')).sort(), ['stabilized.mkv', 'transforms.trf'], 'no temp or staged file left');
    assert.ok(progress.some((r) => r !== null && r > 0.5), 'progress covers both passes');
  });

  it('a file ffmpeg cannot read fails STABILIZE_FAILED with ffmpeg\'s last lines', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'outputs'));
    writeFileSync(join(dir, 'outputs/bad.mp4'), Buffer.alloc(20_000, 3));
    const err = await stabilize({ workdir: dir, tools: await realTools(), config: MEDIA_CONFIG }, { kind: 'video', path: 'outputs/bad.mp4' }, {}).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof MediaFailure);
    assert.equal(err.code, 'STABILIZE_FAILED');
    assert.ok(Array.isArray((err.details as { last_lines: string[] }).last_lines));
    assert.ok(!err.message.includes(dir), 'no server path in the message');
  });
});
