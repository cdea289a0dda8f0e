import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { it } from 'node:test';
import { isAlive, until } from './support/comfyui.ts';
import { spawnSync } from 'node:child_process';
import { tempDir } from './support/context.ts';
import { spawnNpm } from './support/spawn.ts';
import { probe } from './support/media.ts';

it('npm run demo: runs the sample job to the end, prints key, paths and curl lines, stops cleanly on Ctrl-C', { timeout: 90_000 }, async () => {
  const npm = spawnNpm(['run', 'demo']);
  const child = npm.child;
  const output = () => npm.stdout() + npm.stderr();
  try {
    await until('the demo to finish its job', () => output().includes('Ctrl-C stops') || child.exitCode !== null, 80_000);
    const out = output();
    assert.match(out, /API key \(generated for this demo\): [0-9a-f]{48}/);
    assert.match(out, /ended: run_status=completed exit_status=success/);
    assert.match(out, /comfyui:running \d+\/20/, 'progress is printed');
    const manifestPath = out.match(/manifest: +(\S+)/)?.[1] ?? '';
    const finalPath = out.match(/final\.mp4: (\S+)/)?.[1] ?? '';
    const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
    assert.match(m.phases.encode.source, /demo_clip_\d+_\.mp4$/, 'final.mp4 is made from the clip ComfyUI made');
    assert.ok(existsSync(finalPath));
    const final = probe(finalPath);
    assert.deepEqual([final.video?.codec, final.video?.pix_fmt, final.video?.frames, final.video?.fps], ['h264', 'yuv420p', 24, '24/1'], 'a real, playable final.mp4');
    assert.match(out, /curl -H 'X-API-Key: [0-9a-f]{48}' http:\/\/127\.0\.0\.1:\d+\/jobs\//);
    const url = out.match(/listening on (http:\/\/\S+)/)?.[1];
    const key = out.match(/demo\): ([0-9a-f]{48})/)?.[1] ?? '';
    const health = await (await fetch(`${url}/comfyui/health`, { headers: { 'x-api-key': key } })).json();
    assert.equal(health.managed, true);
    // The printed commands for a new run work as they stand, from any folder.
    const lines = out.split('\n').map((l) => l.trim());
    const create = lines.find((l) => l.startsWith('id=$(curl')) ?? '';
    const startCmd = lines.find((l) => l.includes('-X POST') && l.endsWith('/jobs/$id/start')) ?? '';
    assert.ok(create && startCmd, 'the create and start commands are printed');
    const shell = spawnSync('sh', ['-c', `${create}\n${startCmd}`], { cwd: tempDir(), encoding: 'utf8' });
    assert.equal(shell.status, 0, shell.stderr);
    assert.match(shell.stdout, /"run_status":"running"/, `start answered: ${shell.stdout}`);
    const base = out.match(/and removes (\S+)\.$/m)?.[1] ?? '';
    assert.ok(existsSync(base));
    npm.signalGroup('SIGINT'); // Ctrl-C: the terminal signals the group, npm forwards it again
    await new Promise((r) => setTimeout(r, 30));
    npm.signalGroup('SIGINT');
    const { code, signal } = await npm.exit();
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, output());
    await until('the simulator to stop with the demo', () => !isAlive(health.pid), 10_000);
    assert.ok(!existsSync(base), 'the demo removes its temporary folder');
  } finally {
    npm.signalGroup('SIGKILL');
  }
});
