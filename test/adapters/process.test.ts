// The real process as users run it: one VIDAX per runs dir, and signals from a terminal (Ctrl-C
// reaches npm and Node, npm forwards it again) or from systemd (SIGTERM to the whole group).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, until } from '../support/comfyui.ts';
import { TEST_KEY, tempDir } from '../support/context.ts';
import { fixtureWorkflow, snapshot } from '../support/jobs.ts';
import { type Spawned, spawnNpm, spawnVidax } from '../support/spawn.ts';
import { readdirSync, readFileSync } from 'node:fs';

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
        await sleep(50);
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
