import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dieWithParent, killLeftovers } from '../../lib/media/leftovers.ts';
import { tempDir } from '../support/context.ts';
import { realTools } from '../support/media.ts';

/** A slow ffmpeg run (real time, 30 s of a tiny test picture) with `cwd` as its working dir. */
const SLOW = ['-hide_banner', '-nostdin', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=32x24:rate=5:duration=30', '-f', 'null', '-'];

const running = (pid: number) => {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const gone = async (pid: number, ms: number) => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (!running(pid)) return true;
  return !running(pid);
};

/** A Node parent that starts ffmpeg as the media code does, prints its pid, then waits to be killed. */
function parentOfFfmpeg(setpriv: string | null, cwd: string): Promise<{ parent: ReturnType<typeof spawn>; ffmpegPid: number }> {
  const [file, args] = dieWithParent(setpriv, 'ffmpeg', SLOW);
  const code = `const c=require('node:child_process').spawn(${JSON.stringify(file)},${JSON.stringify(args)},{stdio:['ignore','pipe','pipe']});console.log(c.pid);setInterval(()=>{},1000);`;
  const parent = spawn(process.execPath, ['-e', code], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    parent.stdout?.once('data', (d: Buffer) => resolve({ parent, ffmpegPid: Number(String(d).trim()) }));
    parent.once('exit', () => reject(new Error('the parent exited first')));
  });
}

describe('media tools die with VIDAX (Linux)', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  it('through setpriv --pdeathsig, ffmpeg dies the moment its parent is killed with SIGKILL; without it, it runs on', async (t) => {
    const setpriv = (await realTools()).setpriv ?? null;
    if (!setpriv) return t.skip('no setpriv with --pdeathsig on this machine');
    const dir = tempDir();
    const guarded = await parentOfFfmpeg(setpriv, dir);
    const plain = await parentOfFfmpeg(null, dir);
    try {
      await sleep(200);
      assert.ok(running(guarded.ffmpegPid) && running(plain.ffmpegPid), 'both ffmpeg runs started');
      guarded.parent.kill('SIGKILL');
      plain.parent.kill('SIGKILL');
      assert.ok(await gone(guarded.ffmpegPid, 2000), 'the ffmpeg started through setpriv died with its parent');
      assert.ok(running(plain.ffmpegPid), 'a plain child outlives a SIGKILLed parent (what the guard is for)');
    } finally {
      for (const pid of [guarded.ffmpegPid, plain.ffmpegPid]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
  });

  it('killLeftovers kills the ffmpeg working in that run dir, and only that one', async () => {
    const [runA, runB] = [tempDir(), tempDir()];
    const a = spawn('ffmpeg', SLOW, { cwd: runA, stdio: 'ignore' });
    const b = spawn('ffmpeg', SLOW, { cwd: runB, stdio: 'ignore' });
    try {
      await sleep(200);
      assert.deepEqual(await killLeftovers(runA, ['/usr/bin/ffmpeg', 'ffprobe']), [a.pid]);
      assert.equal(running(a.pid ?? 0), false, 'the leftover in run A is gone when killLeftovers resolves');
      assert.equal(running(b.pid ?? 0), true, 'the ffmpeg of run B runs on');
      assert.deepEqual(await killLeftovers(runA, ['ffmpeg']), [], 'nothing left the second time');
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
    }
  });
});
