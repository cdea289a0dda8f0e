import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LOCK_NAME, lockRunsDir, RunsDirInUse } from '../../lib/runs/lock.ts';
import { tempDir } from '../support/context.ts';
import { snapshot } from '../support/jobs.ts';

/** A pid that no process has right now (a child that already exited and was reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('runs dir lock', () => {
  it('takes the lock, refuses a second taker naming the owner pid without writing anything, and releases', () => {
    const dir = tempDir();
    const lock = lockRunsDir(dir);
    assert.equal(readFileSync(join(dir, LOCK_NAME), 'utf8').split('\n')[0], String(process.pid));
    const before = snapshot(dir);
    assert.throws(() => lockRunsDir(dir), (err: unknown) => {
      assert.ok(err instanceof RunsDirInUse);
      assert.equal(err.message, `runs dir ${dir} is in use by pid ${process.pid}`);
      return true;
    });
    assert.deepEqual(snapshot(dir), before, 'the refused taker changed nothing');
    lock.release();
    assert.ok(!existsSync(join(dir, LOCK_NAME)));
    lockRunsDir(dir).release(); // free again
  });

  it('takes over a lock whose owner is gone, or that is unreadable, leaving no stray files', () => {
    for (const content of [`${deadPid()}\n`, 'garbage', '']) {
      const dir = tempDir();
      writeFileSync(join(dir, LOCK_NAME), content);
      const lock = lockRunsDir(dir);
      assert.equal(readFileSync(join(dir, LOCK_NAME), 'utf8').split('\n')[0], String(process.pid), JSON.stringify(content));
      assert.deepEqual(readdirSync(dir), [LOCK_NAME]);
      lock.release();
    }
  });

  it('treats a live pid that started after the lock was written as a reused pid (stale)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_NAME), `${process.pid}\n1\n`); // our pid, but a start time that is not ours
    const lock = lockRunsDir(dir);
    lock.release();
  });

  it('refuses while another live process holds it, and takes it once that process is killed', async () => {
    const dir = tempDir();
    const script = `import('${new URL('../../lib/runs/lock.ts', import.meta.url).href}').then((m) => { m.lockRunsDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000); })`;
    const holder = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(holder.stdout, 'data');
      assert.throws(() => lockRunsDir(dir), new RegExp(`in use by pid ${holder.pid}$`));
      holder.kill('SIGKILL');
      await once(holder, 'exit');
      lockRunsDir(dir).release(); // a crash never leaves it stuck
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
