import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { rotateIfOver } from '../../lib/comfyui/capped-log.ts';
import { type ComfyUIClient, createComfyUIClient } from '../../lib/comfyui/client.ts';
import { type CrashInfo, createProcessManager, type ProcessManager } from '../../lib/comfyui/process-manager.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { fixture, freePort, isAlive, rejectsWith, startExternal, until } from '../support/comfyui.ts';
import { tempDir, testConfig } from '../support/context.ts';
import { simulatorCommand, startSimulator } from '../support/simulator.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** A process manager over a fresh port (or `port`), with short timeouts; stopped after the suite. */
function manager(comfyui: Record<string, unknown>, port: number, opts: { graceMs?: number } = {}) {
  const config = testConfig({
    comfyui: { url: `http://127.0.0.1:${port}`, startTimeoutMs: 10_000, healthTimeoutMs: 1000, requestTimeoutMs: 2000, ...comfyui },
  });
  const log = createMemoryLogger();
  const client: ComfyUIClient = createComfyUIClient({ url: config.comfyui.url, requestTimeoutMs: 2000 });
  const pm: ProcessManager = createProcessManager({ config: config.comfyui, client, log, graceMs: opts.graceMs ?? 1000 });
  cleanups.push(async () => {
    await pm.stop();
    await client.close();
  });
  return { pm, log, config, client };
}


describe('process manager', () => {
  it('adopts a ComfyUI it did not start and never kills it', async () => {
    const port = await freePort();
    const ext = await startExternal(fixture('healthy', '--port', String(port)));
    cleanups.push(ext.stop);
    const { pm } = manager({ command: fixture('exit-at-once') }, port);
    const ensured = await pm.ensureComfyUI();
    assert.deepEqual({ managed: ensured.managed, url: ensured.url }, { managed: false, url: `http://127.0.0.1:${port}` });
    const health = await pm.health();
    assert.equal(health.status, 'ready');
    assert.equal(health.ok, true);
    assert.equal(health.managed, false);
    assert.equal(health.version, '0.3.64');
    assert.deepEqual(health.queue, { running: 0, pending: 0 });
    assert.equal(health.devices?.[0]?.name, 'cpu');
    await pm.stop();
    assert.ok(isAlive(ext.child.pid), 'the adopted ComfyUI still runs after stop()');
    assert.equal((await pm.health()).status, 'ready');
  });

  it('starts ComfyUI, logs its output to the capped log, and stops it gracefully', async () => {
    const port = await freePort();
    const { pm, config } = manager({ command: fixture('healthy', '--port', String(port)) }, port);
    const down = await pm.health();
    assert.deepEqual({ ok: down.ok, status: down.status, managed: down.managed }, { ok: false, status: 'stopped', managed: false });
    const ensured = await pm.ensureComfyUI();
    assert.equal(ensured.managed, true);
    assert.ok(isAlive(ensured.pid));
    const health = await pm.health();
    assert.deepEqual({ ok: health.ok, status: health.status, managed: health.managed, pid: health.pid }, {
      ok: true, status: 'ready', managed: true, pid: ensured.pid,
    });
    assert.ok(typeof health.latency_ms === 'number');
    assert.equal(readFileSync(`${config.comfyui.logFile}.pid`, 'utf8').split('\n')[0], String(ensured.pid), 'pid file: pid, then its start time');
    await until('the ready line in the log', () => readFileSync(config.comfyui.logFile, 'utf8').includes('To see the GUI go to:'));
    const again = await pm.ensureComfyUI();
    assert.equal(again.pid, ensured.pid, 'an already healthy ComfyUI is reused');
    await pm.stop();
    assert.ok(!isAlive(ensured.pid), 'the managed ComfyUI is gone after stop()');
    const after = await pm.health();
    assert.deepEqual({ ok: after.ok, status: after.status, pid: after.pid }, { ok: false, status: 'stopped', pid: null });
    assert.ok(!existsSync(`${config.comfyui.logFile}.pid`), 'the pid file is removed');
  });

  it('kills a ComfyUI that never becomes ready (SIGKILL if it ignores SIGTERM) and fails COMFYUI_TIMEOUT', async () => {
    const port = await freePort();
    const { pm } = manager({ command: fixture('never-listen', '--ignore-sigterm'), startTimeoutMs: 3000 }, port, { graceMs: 300 });
    const err = await rejectsWith(pm.ensureComfyUI(), 'COMFYUI_TIMEOUT');
    const details = err.details as { pid: number; last_lines: string[] };
    assert.ok(details.pid > 0);
    assert.ok(!isAlive(details.pid), 'no orphan is left behind');
    assert.ok(details.last_lines.some((l) => l.includes('Importing custom nodes')));
    assert.equal((await pm.health()).ok, false);
  });

  it('fails COMFYUI_START_FAILED with the exit code and last lines when ComfyUI exits first', async () => {
    const port = await freePort();
    const { pm } = manager({ command: fixture('exit-at-once', '3') }, port);
    const err = await rejectsWith(pm.ensureComfyUI(), 'COMFYUI_START_FAILED');
    const details = err.details as { exit_code: number; last_lines: string[] };
    assert.equal(details.exit_code, 3);
    assert.ok(details.last_lines.includes('ModuleNotFoundError: No module named torch'), details.last_lines.join('\n'));
    assert.ok(details.last_lines.includes('[ERROR] Traceback (most recent call last):'), 'colour codes are stripped');
    assert.match(err.message, /exited with code 3/);
    const missing = manager({ command: ['/nonexistent/python3-vidax', 'main.py'] }, port);
    const e2 = await rejectsWith(missing.pm.ensureComfyUI(), 'COMFYUI_START_FAILED');
    assert.match(JSON.stringify(e2.details), /ENOENT/);
  });

  it('refuses to start when autoStart is false, saying so', async () => {
    const { pm } = manager({ autoStart: false, command: fixture('healthy') }, await freePort());
    const err = await rejectsWith(pm.ensureComfyUI(), 'COMFYUI_START_FAILED');
    assert.match(err.message, /autoStart is false/);
    const health = await pm.health();
    assert.deepEqual({ ok: health.ok, status: health.status }, { ok: false, status: 'unreachable' });
    assert.match(health.error ?? '', /unreachable/);
  });

  it('shares one start between concurrent callers', async () => {
    const port = await freePort();
    const { pm, config } = manager({ command: fixture('healthy', '--port', String(port)) }, port);
    const results = await Promise.all(Array.from({ length: 6 }, () => pm.ensureComfyUI()));
    assert.equal(new Set(results.map((r) => r.pid)).size, 1);
    const starts = readFileSync(config.comfyui.logFile, 'utf8').match(/VIDAX started ComfyUI/g) ?? [];
    assert.equal(starts.length, 1, 'exactly one child was spawned');
  });

  it('reports a crash and restarts with back-off, up to maxRestarts', async () => {
    const port = await freePort();
    const { pm, log } = manager(
      { command: fixture('healthy', '--port', String(port)), restart: { enabled: true, maxRestarts: 1, backoffMs: 100, maxBackoffMs: 200 } },
      port,
    );
    const crashes: CrashInfo[] = [];
    pm.onCrash((info) => crashes.push(info));
    const first = await pm.ensureComfyUI();
    process.kill(first.pid!, 'SIGKILL');
    await until('the crash report', () => crashes.length === 1);
    assert.deepEqual({ pid: crashes[0]?.pid, signal: crashes[0]?.signal, restarting: crashes[0]?.restarting }, {
      pid: first.pid, signal: 'SIGKILL', restarting: true,
    });
    assert.ok(log.lines.some((l) => l.msg === 'comfyui exited unexpectedly'));
    await until('the restart to be ready', () => log.lines.some((l) => l.msg === 'comfyui ready' && l.pid !== first.pid));
    const restarted = await pm.health();
    assert.equal(restarted.status, 'ready');
    assert.notEqual(restarted.pid, first.pid);
    assert.equal(restarted.managed, true);
    assert.equal(restarted.restarts, 1);
    process.kill(restarted.pid!, 'SIGKILL');
    await until('the second crash report', () => crashes.length === 2);
    assert.equal(crashes[1]?.restarting, false, 'the restart budget is spent');
    const crashed = await pm.health();
    assert.deepEqual({ ok: crashed.ok, status: crashed.status }, { ok: false, status: 'crashed' });
    const again = await pm.ensureComfyUI(); // an explicit start still works
    assert.ok(isAlive(again.pid));
  });

  it('answers health within about 2 s while ComfyUI hangs, and reports HTTP errors', async () => {
    const port = await freePort();
    const ext = await startExternal(fixture('healthy', '--port', String(port), '--hang'));
    cleanups.push(ext.stop);
    const { pm } = manager({ healthTimeoutMs: 1500, autoStart: false }, port);
    const timer = new Promise<'late'>((r) => setTimeout(r, 2500, 'late').unref());
    const health = await Promise.race([pm.health(), timer]);
    assert.notEqual(health, 'late');
    if (health === 'late') return;
    assert.deepEqual({ ok: health.ok, status: health.status }, { ok: false, status: 'unreachable' });
    assert.match(health.error ?? '', /did not answer/);

    const port500 = await freePort();
    const bad = await startExternal(fixture('http-500', '--port', String(port500)));
    cleanups.push(bad.stop);
    const h500 = await manager({ autoStart: false }, port500).pm.health();
    assert.equal(h500.ok, false);
    assert.match(h500.error ?? '', /HTTP 500/);
  });
});

describe('process manager with the simulator', () => {
  it('adopts a running simulator, and leaves it running on stop()', async () => {
    const sim = await startSimulator();
    cleanups.push(sim.stop);
    const { pm } = manager({ command: fixture('exit-at-once') }, sim.port);
    assert.equal((await pm.ensureComfyUI()).managed, false);
    const health = await pm.health();
    assert.deepEqual({ ok: health.ok, status: health.status, managed: health.managed }, { ok: true, status: 'ready', managed: false });
    assert.equal(typeof health.version, 'string');
    await pm.stop();
    assert.ok(isAlive(sim.pid));
  });

  it('starts the simulator as its ComfyUI; a second manager (VIDAX restarted) re-adopts it through its pid file and manages it', async () => {
    const port = await freePort();
    const first = manager({ command: simulatorCommand(port), startTimeoutMs: 15_000 }, port);
    const started = await first.pm.ensureComfyUI();
    assert.equal(started.managed, true);
    const logFile = first.config.comfyui.logFile;
    await first.pm.close(); // stopOnExit is false by default: VIDAX exits, ComfyUI keeps running
    assert.ok(isAlive(started.pid), 'close() leaves the managed ComfyUI running');
    assert.ok(existsSync(`${logFile}.pid`), 'and its pid file for the next VIDAX');
    const second = createProcessManager({
      config: { ...first.config.comfyui, command: fixture('exit-at-once'), restart: { ...first.config.comfyui.restart, enabled: false } },
      client: first.client,
      log: createMemoryLogger(),
    });
    const crashes: CrashInfo[] = [];
    second.onCrash((info) => crashes.push(info));
    const adopted = await second.ensureComfyUI();
    assert.deepEqual(adopted, { url: `http://127.0.0.1:${port}`, managed: true, pid: started.pid });
    const health = await second.health();
    assert.deepEqual({ status: health.status, managed: health.managed, pid: health.pid, log_file: health.log_file }, {
      status: 'ready', managed: true, pid: started.pid, log_file: logFile,
    });
    process.kill(started.pid!, 'SIGKILL'); // not its child, yet its exit is seen
    await until('the re-adopted ComfyUI crash report', () => crashes.length === 1);
    assert.equal(crashes[0]?.pid, started.pid);
    await second.stop();
  });

  it('stops a re-adopted ComfyUI (its whole process group) on stop(), and on close() with stopOnExit', async () => {
    const port = await freePort();
    const first = manager({ command: simulatorCommand(port), startTimeoutMs: 15_000 }, port);
    const started = await first.pm.ensureComfyUI();
    await first.pm.close();
    const second = createProcessManager({
      config: { ...first.config.comfyui, stopOnExit: true },
      client: first.client,
      log: createMemoryLogger(),
    });
    assert.equal(second.adoptPrevious(), started.pid);
    await second.close();
    assert.ok(!isAlive(started.pid), 'stopOnExit: close() stops it');
    assert.ok(!existsSync(`${first.config.comfyui.logFile}.pid`));
  });

  it('times out a never-ready simulator and kills it; reports an exit at start with its code', async () => {
    const port = await freePort();
    const never = manager({ command: simulatorCommand(port, ['--never-ready']), startTimeoutMs: 2500 }, port);
    const err = await rejectsWith(never.pm.ensureComfyUI(), 'COMFYUI_TIMEOUT');
    assert.ok(!isAlive((err.details as { pid: number }).pid));
    const exits = manager({ command: simulatorCommand(port, ['--exit-at-start', '4']), startTimeoutMs: 15_000 }, port);
    const e2 = await rejectsWith(exits.pm.ensureComfyUI(), 'COMFYUI_START_FAILED');
    assert.equal((e2.details as { exit_code: number }).exit_code, 4);
    assert.ok((e2.details as { last_lines: string[] }).last_lines.length > 0);
  });
});

describe('capped log', () => {
  it('copy-truncates to .1 once past the cap; a writer holding the file keeps appending at the new end', () => {
    const file = join(tempDir(), 'comfyui.log');
    writeFileSync(`${file}.1`, 'old rotated'); // replaced by the next rotation
    const fd = openSync(file, 'a'); // as the managed ComfyUI holds it
    for (let i = 0; i < 30; i++) {
      writeSync(fd, `line ${String(i).padStart(2, '0')}\n`);
      rotateIfOver(file, 100);
    }
    closeSync(fd);
    assert.ok(statSync(file).size <= 100);
    assert.ok(statSync(`${file}.1`).size <= 100 + 8);
    assert.match(readFileSync(file, 'utf8'), /^line \d\d\n(line \d\d\n)*line 29\n$/, 'no hole of NULs: appends restart at 0');
    assert.doesNotMatch(readFileSync(`${file}.1`, 'utf8'), /old rotated/);
  });
});
