// Tests, the demo and the simulator leave no temporary folders behind.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './support/spawn.ts';
import { SIMULATOR_MAIN } from './support/simulator.ts';

describe('temporary folders', () => {
  it('a test process removes every tempDir() (and FakeRunStore folder) when it exits', () => {
    const script = `
      const { tempDir } = await import(${JSON.stringify(join(ROOT, 'test', 'support', 'context.ts'))});
      const { FakeRunStore } = await import(${JSON.stringify(join(ROOT, 'test', 'fakes', 'run-store.ts'))});
      console.log(JSON.stringify([tempDir(), tempDir('x-'), new FakeRunStore().runsDir]));`;
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const dirs = JSON.parse(r.stdout) as string[];
    assert.equal(dirs.length, 3);
    for (const dir of dirs) assert.ok(!existsSync(dir), `${dir} is gone`);
  });

  it('the simulator removes its default folders when it stops, by signal or by a failed start', { timeout: 30_000 }, async () => {
    for (const extra of [[], ['--exit-at-start', '3']]) {
      const tmp = mkdtempSync(join(tmpdir(), 'vidax-simtmp-'));
      try {
        const sim = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), SIMULATOR_MAIN, '--port', '0', ...extra], {
          env: { ...process.env, TMPDIR: tmp },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        sim.stderr.on('data', (d) => { err += d; });
        const exited = once(sim, 'exit');
        if (extra.length === 0) {
          while (!err.includes('To see the GUI go to')) await new Promise((r) => setTimeout(r, 20));
          assert.equal(readdirSync(tmp).filter((n) => n.startsWith('comfyui-sim-')).length, 1, 'its folders live in the temp folder');
          sim.kill('SIGTERM');
        }
        await exited;
        assert.deepEqual(readdirSync(tmp).filter((n) => !n.startsWith('tsx-')), [], `nothing left (${extra.join(' ') || 'SIGTERM'})`);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  });
});
