// What a new user sees first: --help, and a start-up line that says where ComfyUI is expected,
// with warnings for a managed command that cannot work.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeComfyUI } from '../../lib/comfyui/startup-check.ts';
import { freePort } from '../support/comfyui.ts';
import { TEST_KEY, tempDir, testConfig } from '../support/context.ts';
import { ROOT, spawnVidax } from '../support/spawn.ts';

describe('--help', () => {
  it('node dist/vidax.mjs --help and npm run sim -- --help print usage and exit 0', { timeout: 60_000 }, () => {
    assert.equal(spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT }).status, 0);
    const vidax = spawnSync(process.execPath, [join(ROOT, 'dist', 'vidax.mjs'), '--help'], { cwd: tempDir(), encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(vidax.status, 0, vidax.stderr);
    assert.match(vidax.stdout, /^usage: node dist\/vidax\.mjs/);
    assert.match(vidax.stdout, /VIDAX_API_KEY/);
    const sim = spawnSync('npm', ['run', '--silent', 'sim', '--', '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.equal(sim.status, 0, sim.stderr);
    assert.match(sim.stdout, /^usage: npm run sim --/);
    assert.match(sim.stdout, /--fail-node CLASS/);
  });
});

describe('start-up line', () => {
  it('says where ComfyUI is expected and how, and warns about a missing main.py and a port mismatch', () => {
    const comfyDir = tempDir();
    const managed = testConfig({ comfyui: { url: 'http://127.0.0.1:8188', cwd: comfyDir, command: ['python3', 'main.py', '--port', '8190'] } }).comfyui;
    const d = describeComfyUI(managed, '/elsewhere');
    assert.match(d.line, /^ComfyUI expected at http:\/\/127\.0\.0\.1:8188: adopted if it answers there, else managed: VIDAX runs \["python3","main\.py","--port","8190"\] in /);
    assert.ok(d.line.includes(comfyDir));
    assert.equal(d.warnings.length, 2);
    assert.match(d.warnings[0] ?? '', /main\.py does not exist: set comfyui\.cwd to your ComfyUI folder/);
    assert.match(d.warnings[1] ?? '', /port 8190, but comfyui\.url says port 8188/);

    writeFileSync(join(comfyDir, 'main.py'), '');
    const fine = testConfig({ comfyui: { url: 'http://127.0.0.1:8190', cwd: comfyDir, command: ['python3', 'main.py', '--port=8190'] } }).comfyui;
    assert.deepEqual(describeComfyUI(fine, '/elsewhere').warnings, []);

    const adopted = testConfig({ comfyui: { autoStart: false, url: 'http://10.0.0.5:8188' } }).comfyui;
    assert.deepEqual(describeComfyUI(adopted, '/x'), {
      line: 'ComfyUI expected at http://10.0.0.5:8188: adopted (comfyui.autoStart is false: VIDAX never starts it)',
      warnings: [],
    });
  });

  it('the process prints it on stderr at start, warnings included', { timeout: 30_000 }, async () => {
    const base = tempDir();
    const port = await freePort();
    writeFileSync(join(base, 'vidax.json'), JSON.stringify({ runsDir: 'runs', comfyui: { url: `http://127.0.0.1:${port}`, command: ['python3', 'main.py', '--port', String(port + 1)] } }));
    const p = spawnVidax({ VIDAX_API_KEY: TEST_KEY, VIDAX_PORT: '0', VIDAX_CONFIG: join(base, 'vidax.json') }, base);
    try {
      await p.waitFor(/warning: comfyui\.command starts ComfyUI on port/);
      assert.match(p.stderr(), new RegExp(`ComfyUI expected at http://127\\.0\\.0\\.1:${port}: adopted if it answers there, else managed`));
      assert.match(p.stderr(), /warning: comfyui\.command runs main\.py, but .*main\.py does not exist/);
      assert.deepEqual(readdirSync(base).sort(), ['runs', 'vidax.json'], 'nothing started');
    } finally {
      p.child.kill('SIGKILL');
    }
  });
});
