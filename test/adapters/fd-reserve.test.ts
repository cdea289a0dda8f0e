import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TEST_KEY, tempDir } from '../support/context.ts';
import { ROOT } from '../support/spawn.ts';

describe('file descriptors kept for runs', () => {
  it('under `ulimit -n 300`, maxConnections is lowered to keep fdReserve (256) descriptors free, and says so', { timeout: 30_000 }, async (t) => {
    // prlimit (util-linux) sets the limit for the child alone.
    const child = spawn('prlimit', ['--nofile=300:300', process.execPath, '--import', import.meta.resolve('tsx'), join(ROOT, 'adapters', 'node.ts')], {
      cwd: tempDir(),
      env: { PATH: process.env.PATH ?? '', VIDAX_API_KEY: TEST_KEY, VIDAX_PORT: '0', VIDAX_RUNS_DIR: tempDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const exited = once(child, 'exit');
    try {
      const deadline = Date.now() + 20_000;
      while (!err.includes('listening on') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      if (/prlimit: /.test(err)) return t.skip(`prlimit refused: ${err.trim()}`);
      assert.match(err, /listening on/, err);
      await new Promise((r) => setTimeout(r, 200)); // the log is batched
      const line = out.split('\n').find((l) => l.includes('maxConnections lowered'));
      assert.ok(line, out);
      assert.deepEqual(
        (({ max_connections, configured, open_files_limit, fd_reserve }) => ({ max_connections, configured, open_files_limit, fd_reserve }))(JSON.parse(line)),
        { max_connections: 44, configured: 1000, open_files_limit: 300, fd_reserve: 256 },
      );
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });
});
