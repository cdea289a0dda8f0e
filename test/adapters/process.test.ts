// The real process as users run it: one VIDAX per runs dir, and signals from a terminal (Ctrl-C
// reaches npm and Node, npm forwards it again) or from systemd (SIGTERM to the whole group).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixture, freePort, isAlive, until } from '../support/comfyui.ts';
import { TEST_KEY, tempDir } from '../support/context.ts';
import { fixtureWorkflow, snapshot } from '../support/jobs.ts';
import { simulatorCommand } from '../support/simulator.ts';
import { type Spawned, spawnNpm, spawnVidax } from '../support/spawn.ts';

const vidaxEnv = (runsDir: string) => ({ VIDAX_API_KEY: TEST_KEY, VIDAX_PORT: '0', VIDAX_RUNS_DIR: runsDir });

/** Every file under `dir` whose name says it is a temp file of an atomic write. */
const tempFiles = (dir: string) => snapshot(dir).filter((p) => /\.tmp:/.test(p));

describe('one VIDAX per runs dir', () => {
  it('a second process on the same runs dir exits 2 naming the owner and changes nothing; a killed owner frees it', { timeout: 60_000 }, async () => {
    const runsDir = join(tempDir(), 'runs');
    const first = spawnVidax(vidaxEnv(runsDir), tempDir());
    const others: Spawned[] = [];
    try {
      const [, url] = await first.waitFor(/listening on (http:\/\/\S+)/);
      const created = await fetch(`${url}/jobs`, {
        method: 'POST',
        headers: { 'x-api-key': TEST_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }),
      });
      assert.equal(created.status, 202);
      const before = snapshot(runsDir);
      const second = spawnVidax(vidaxEnv(runsDir), tempDir());
      others.push(second);
      const exited = await Promise.race([second.exit(), sleep(20_000).then(() => ({ code: 'still running' }))]);
      assert.equal(exited.code, 2, second.stderr());
      assert.equal(second.stderr().trim(), `runs dir ${runsDir} is in use by pid ${first.child.pid}`);
      assert.deepEqual(snapshot(runsDir), before, 'the second process changed nothing');
      assert.equal((await fetch(`${url}/health`, { headers: { 'x-api-key': TEST_KEY } })).status, 200);

      first.child.kill('SIGKILL');
      await first.exit();
      const third = spawnVidax(vidaxEnv(runsDir), tempDir());
      others.push(third);
      await third.waitFor(/listening on/);
      third.child.kill('SIGTERM');
      assert.equal((await third.exit()).code, 0);
    } finally {
      for (const p of [first, ...others]) p.child.kill('SIGKILL');
    }
  });
});

/** Sends all but the last byte of a POST /jobs, so the request is in flight until `finish()`. */
async function requestInFlight(url: string) {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({ workflow: fixtureWorkflow('workflow-single') });
  const sock = connect(Number(port), hostname);
  await new Promise((r) => sock.once('connect', r));
  let answer = '';
  sock.on('data', (d) => { answer += d; });
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  sock.write(
    `POST /jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: ${TEST_KEY}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, -1)}`,
  );
  return {
    async finish() {
      sock.write(body.slice(-1));
      await closed;
      return answer;
    },
  };
}

describe('signals: npm start', () => {
  for (const [signal, who] of [['SIGINT', 'Ctrl-C'], ['SIGTERM', 'systemd (KillMode=control-group)']] as const) {
    it(`${who}: repeated ${signal} to the whole group never cuts the drain short`, { timeout: 60_000 }, async () => {
      const runsDir = join(tempDir(), 'runs');
      const npm = spawnNpm(['start'], vidaxEnv(runsDir));
      try {
        const [, url] = await npm.waitFor(/listening on (http:\/\/\S+)/, 30_000);
        const pending = await requestInFlight(url as string);
        await sleep(100);
        npm.signalGroup(signal); // the terminal or systemd
        // Once VIDAX has taken the first one (a signal still pending when the next arrives is
        // merged with it by the kernel: on a loaded machine the process may not have run yet).
        await npm.waitFor(/"msg":"shutting down"/, 10_000);
        npm.signalGroup(signal); // npm forwarding it, an impatient user, systemd again
        npm.signalGroup('SIGTERM');
        await sleep(500);
        assert.equal(npm.child.exitCode, null, 'still draining the request in flight');
        const answer = await pending.finish();
        assert.match(answer, /^HTTP\/1\.1 202 /, `the request in flight got its answer: ${npm.stdout()} ${npm.stderr()}`);
        const { code, signal: killedBy } = await npm.exit();
        assert.deepEqual({ code, killedBy }, { code: 0, killedBy: null }, npm.stderr());
        assert.match(npm.stdout(), /"msg":"already shutting down; signal ignored"/);
        assert.deepEqual(tempFiles(runsDir), []);
        const runs = readdirSync(runsDir).filter((n) => n.startsWith('r_'));
        assert.equal(runs.length, 1);
        JSON.parse(readFileSync(join(runsDir, runs[0]!, 'manifest.json'), 'utf8'));
      } finally {
        npm.signalGroup('SIGKILL');
      }
    });
  }
});

describe('signals: npm run sim', () => {
  it('SIGTERM to npm alone stops the simulator (exec: no orphan left listening)', { timeout: 30_000 }, async () => {
    const npm = spawnNpm(['run', 'sim', '--', '--port', '0']);
    try {
      const [, port] = await npm.waitFor(/To see the GUI go to: http:\/\/127\.0\.0\.1:(\d+)/, 20_000);
      npm.child.kill('SIGTERM'); // npm's pid only, as a supervisor that is not group-aware does
      await npm.exit();
      await until('the simulator to stop listening', async () => {
        const refused = await new Promise<boolean>((resolve) => {
          const s = connect(Number(port), '127.0.0.1');
          s.once('connect', () => { s.destroy(); resolve(false); });
          s.once('error', () => resolve(true));
        });
        return refused;
      }, 10_000);
      assert.ok(!isAlive(npm.child.pid));
    } finally {
      npm.signalGroup('SIGKILL');
    }
  });
});

/** VIDAX from source with a config file in `base` (runs dir `base/runs`), listening on a free port. */
async function vidaxWithConfig(base: string, config: Record<string, unknown>, env: Record<string, string> = {}) {
  const file = join(base, 'vidax.json');
  writeFileSync(file, JSON.stringify({ requestLog: false, runsDir: 'runs', ...config }));
  const proc = spawnVidax({ VIDAX_API_KEY: TEST_KEY, VIDAX_PORT: '0', VIDAX_CONFIG: file, ...env }, base);
  const [, url] = await proc.waitFor(/listening on (http:\/\/\S+)/, 20_000);
  const headers = { 'x-api-key': TEST_KEY, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: await res.json() };
  };
  return { proc, url: url as string, call };
}

/** Kills a process group (a managed ComfyUI is a session leader) and waits until its leader is gone. */
async function killGroup(pid: number | null | undefined) {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone
  }
  await until(`pid ${pid} to go`, () => !isAlive(pid), 5000).catch(() => {});
}

describe('a VIDAX restart does not kill GPU work', () => {
  it('slow run on a managed ComfyUI, SIGTERM VIDAX, start it again: same ComfyUI pid, run re-attached, success', { timeout: 90_000 }, async () => {
    const base = tempDir();
    const port = await freePort();
    const config = { comfyui: { url: `http://127.0.0.1:${port}`, command: simulatorCommand(port), startTimeoutMs: 20_000 } };
    const slow = {
      '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
      '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps: 60, step_ms: 50 } },
      '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'handover' } },
    };
    let comfyPid: number | null = null;
    const first = await vidaxWithConfig(base, config);
    let second: Awaited<ReturnType<typeof vidaxWithConfig>> | null = null;
    try {
      const id = (await first.call('POST', '/jobs', { workflow: slow })).body.run_id as string;
      assert.equal((await first.call('POST', `/jobs/${id}/start`)).status, 202);
      comfyPid = (await first.call('GET', '/comfyui/health')).body.pid;
      assert.ok(comfyPid && isAlive(comfyPid));
      await until('progress', async () => (await first.call('GET', `/jobs/${id}`)).body.phases.comfyui.progress?.value > 2);
      first.proc.child.kill('SIGTERM');
      assert.equal((await first.proc.exit()).code, 0);
      assert.match(first.proc.stdout(), /leaving comfyui running for the next VIDAX/);
      assert.ok(isAlive(comfyPid), 'ComfyUI outlives VIDAX');

      second = await vidaxWithConfig(base, config);
      const end = await until('the run to end', async () => {
        const r = await second!.call('GET', `/jobs/${id}`);
        return ['completed', 'failed'].includes(r.body.run_status) ? r.body : null;
      }, 30_000);
      assert.equal(end.exit_status, 'success', JSON.stringify(end.error));
      const health = (await second.call('GET', '/comfyui/health')).body;
      assert.deepEqual({ pid: health.pid, managed: health.managed }, { pid: comfyPid, managed: true });
      const events = await (await fetch(`${second.url}/jobs/${id}/logs`, { headers: { 'x-api-key': TEST_KEY } })).text();
      assert.match(events, /"type":"run.reattached"/);
    } finally {
      first.proc.child.kill('SIGKILL');
      second?.proc.child.kill('SIGKILL');
      await killGroup(comfyPid);
    }
  });
});

describe('the key stays in VIDAX', () => {
  it('a managed ComfyUI gets the environment minus every VIDAX_* variable, plus comfyui.env', { timeout: 60_000 }, async () => {
    const base = tempDir();
    const port = await freePort();
    const out = join(base, 'env.json');
    const vx = await vidaxWithConfig(
      base,
      { comfyui: { url: `http://127.0.0.1:${port}`, command: fixture('report-env', '--port', String(port), '--out', out), env: { COMFY_EXTRA: 'from-config' }, stopOnExit: true } },
      { VIDAX_EXTRA_SECRET: 'do-not-leak', LANG_TEST_VAR: 'kept' },
    );
    let pid: number | null = null;
    try {
      const started = await vx.call('POST', '/comfyui/start');
      assert.equal(started.status, 202, JSON.stringify(started.body));
      pid = started.body.pid;
      const env = JSON.parse(readFileSync(out, 'utf8')) as Record<string, string>;
      assert.deepEqual(Object.keys(env).filter((k) => /^VIDAX_/i.test(k)), []);
      assert.equal(env.COMFY_EXTRA, 'from-config');
      assert.equal(env.LANG_TEST_VAR, 'kept');
      assert.ok(env.PATH, 'the rest of the environment is passed on');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      assert.ok(!environ.includes(TEST_KEY) && !environ.includes('do-not-leak'), 'not in /proc/<pid>/environ either');
      vx.proc.child.kill('SIGTERM');
      assert.equal((await vx.proc.exit()).code, 0);
      await until('stopOnExit to stop it', () => !isAlive(pid), 10_000);
    } finally {
      vx.proc.child.kill('SIGKILL');
      await killGroup(pid);
    }
  });
});
