import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ComfyUIError } from '../../lib/comfyui/errors.ts';
import { spawnProcess } from '../../scripts/lib/spawn.ts';
import { ROOT } from './spawn.ts';

/** Argv of a fixture program in test/fixtures/bin (plain JS run by this node). */
export const fixture = (name: string, ...args: string[]): string[] => [
  process.execPath,
  join(ROOT, 'test', 'fixtures', 'bin', `${name}.mjs`),
  ...args,
];

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` every 25 ms until it returns a truthy value, failing after `ms`. */
export async function until<T>(what: string, check: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Runs a fixture as an external process (not started by VIDAX) and waits until it listens. */
export async function startExternal(argv: string[]): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const [file = '', ...args] = argv;
  const proc = spawnProcess(file, args, { env: { ...process.env } });
  try {
    await proc.waitFor(/To see the GUI go to:/, 10_000);
  } catch (err) {
    proc.child.kill('SIGKILL');
    await proc.exited;
    throw new Error(`external server did not listen: ${(err as Error).message}`);
  }
  return {
    child: proc.child,
    async stop() {
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}

/** Awaits `p` and asserts it rejects with a ComfyUIError of `code` (HTTP status 500). */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<ComfyUIError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ComfyUIError, `expected a ComfyUIError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, 500);
    return err;
  }
  assert.fail(`expected ${code}`);
}
