// A full disk mid-run: the run fails STORAGE_ERROR (not a ComfyUI error), its end is retried until
// it lands once space is back, and it has exactly one terminal event.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { startVidaxWithSim } from '../support/vidax.ts';

/** Fills the file system of `dir` to the last byte; returns the filler's path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        writeSync(fd, chunk, 0, size);
      } catch {
        size = Math.floor(size / 2); // ENOSPC: fill the last pages with smaller writes
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

describe('storage errors mid-run', () => {
  let mnt: string;
  let mounted = false;
  before(() => {
    mnt = tempDir('vidax-tmpfs-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'pipe' });
      mounted = true;
    } catch (err) {
      console.log(`storage test skipped: cannot mount a tmpfs (${(err as Error).message.split('\n')[0]}); it needs root`);
    }
  });
  after(() => {
    if (mounted) execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('a disk filled mid-run: the run fails STORAGE_ERROR once space is back, with exactly one run.failed', { timeout: 120_000 }, async (t) => {
    if (!mounted) return t.skip('no tmpfs (needs root)');
    mkdirSync(join(mnt, 'runs'));
    const vx = await startVidaxWithSim({ runsDir: join(mnt, 'runs') });
    try {
      const id = await vx.createRun({
        workflow: {
          '1': { class_type: 'EmptyImage', inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
          '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps: 30, step_ms: 50 } },
          '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'full' } },
        },
      });
      assert.equal((await vx.start(id)).status, 202);
      const filler = fill(mnt);
      // The output cannot be downloaded and the run's end cannot be written: it stays running.
      await until('the end retried', () => vx.log.lines.some((l) => l.msg === 'run end could not be written; retrying until it lands'), 30_000);
      assert.equal((await vx.get(id)).body.run_status, 'running');
      rmSync(filler);
      const end = await vx.waitEnd(id, 30_000);
      assert.equal(end.run_status, 'failed');
      assert.equal(end.error.code, 'STORAGE_ERROR', JSON.stringify(end.error));
      assert.equal(end.error.details?.errno ?? 'ENOSPC', 'ENOSPC');
      const events = await vx.events(id);
      assert.equal(events.filter((e: { type: string }) => e.type === 'run.failed' || e.type === 'run.completed').length, 1);
      // A later start is refused as for any finished run, not left hanging.
      assert.equal((await vx.start(id)).status, 409);
    } finally {
      await vx.close();
    }
  });
});
