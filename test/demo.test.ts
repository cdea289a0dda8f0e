import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { isAlive, until } from './support/comfyui.ts';
import { ROOT } from './support/spawn.ts';

it('npm run demo: runs the sample job to the end, prints key, paths and curl lines, stops cleanly', { timeout: 90_000 }, async () => {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'scripts', 'demo.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  try {
    await until('the demo to finish its job', () => out.includes('Ctrl-C stops') || child.exitCode !== null, 80_000);
    assert.match(out, /API key \(generated for this demo\): [0-9a-f]{48}/);
    assert.match(out, /ended: run_status=completed exit_status=success/);
    assert.match(out, /comfyui:running \d+\/20/, 'progress is printed');
    const manifestPath = out.match(/manifest: +(\S+)/)?.[1] ?? '';
    const finalPath = out.match(/final\.mp4: (\S+)/)?.[1] ?? '';
    const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
    assert.equal(m.phases.encode.placeholder, false, 'final.mp4 is the clip ComfyUI made');
    assert.ok(existsSync(finalPath));
    assert.match(out, /curl -H 'X-API-Key: [0-9a-f]{48}' http:\/\/127\.0\.0\.1:\d+\/jobs\//);
    const url = out.match(/listening on (http:\/\/\S+)/)?.[1];
    const key = out.match(/demo\): ([0-9a-f]{48})/)?.[1] ?? '';
    const health = await (await fetch(`${url}/comfyui/health`, { headers: { 'x-api-key': key } })).json();
    assert.equal(health.managed, true);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    await until('the simulator to stop with the demo', () => !isAlive(health.pid), 10_000);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
