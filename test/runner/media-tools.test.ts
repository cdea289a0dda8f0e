import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../support/spawn.ts';
import { probe } from '../support/media.ts';
import { startVidaxWithSim, workflow } from '../support/vidax.ts';

describe('media tools missing (VIDAX keeps running)', () => {
  it('/health reports the real tools', async () => {
    const vx = await startVidaxWithSim();
    try {
      const h = await vx.health();
      assert.equal(h.ok, true);
      assert.equal(h.media.ok, true);
      assert.equal(h.media.vidstab, true);
      assert.match(h.media.ffmpeg, /^\d/);
      assert.ok(h.media.encoders.includes('libx264'));
    } finally {
      await vx.close();
    }
  });

  it('without libvidstab: stabilize is skipped with the reason, final.mp4 still made, the run ends partial', async () => {
    const vx = await startVidaxWithSim({ media: { ffmpeg: join(ROOT, 'test/fixtures/bin/ffmpeg-no-vidstab.mjs') } });
    try {
      assert.equal((await vx.health()).media.vidstab, false);
      const id = await vx.createRun({ workflow: workflow('single'), phases: { stabilize: { enabled: true } } });
      await vx.start(id);
      const end = await vx.waitEnd(id);
      assert.equal(end.run_status, 'completed');
      assert.equal(end.exit_status, 'partial');
      assert.equal(end.phases.stabilize.status, 'skipped');
      assert.equal(end.phases.stabilize.requested, true);
      assert.match(end.phases.stabilize.reason, /libvidstab/);
      assert.equal(end.phases.encode.status, 'completed');
      assert.equal(probe(join(end.workdir, 'final.mp4')).video?.codec, 'h264');
    } finally {
      await vx.close();
    }
  });

  it('without ffmpeg: /health says so, encode fails MEDIA_TOOL_MISSING with what to install, VIDAX serves on', async () => {
    const vx = await startVidaxWithSim({ media: { ffmpeg: '/nonexistent/bin/ffmpeg', ffprobe: '/nonexistent/bin/ffprobe' } });
    try {
      const h = await vx.health();
      assert.equal(h.ok, true, 'VIDAX itself is up');
      assert.deepEqual([h.media.ok, h.media.ffmpeg, h.media.vidstab], [false, null, false]);
      const id = await vx.createRun({ workflow: workflow('single') });
      await vx.start(id);
      const end = await vx.waitEnd(id);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.error.code, 'MEDIA_TOOL_MISSING');
      assert.equal(end.phases.encode.status, 'failed');
      assert.equal(end.phases.comfyui.status, 'completed');
      assert.match(end.error.message, /apt-get install -y ffmpeg/);
      assert.equal(existsSync(join(end.workdir, 'final.mp4')), false);
      const off = await vx.createRun({ workflow: workflow('single'), phases: { encode: { enabled: false } } });
      await vx.start(off);
      assert.equal((await vx.waitEnd(off)).exit_status, 'success', 'a job that wants no video needs no ffmpeg');
    } finally {
      await vx.close();
    }
  });
});
