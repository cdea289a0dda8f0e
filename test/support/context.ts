import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyCheck } from '../../lib/http/auth.ts';
import { type Config, parseConfig } from '../../lib/config.ts';
import { createMemoryLogger } from '../../lib/logger.ts';

export const TEST_KEY = 'test-key-0123456789abcdef';

const made: string[] = [];
// Every test file runs in a process of its own: its temp folders go when it exits.
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix = 'vidax-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A validated config over a temp runs directory, with overrides. */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  const base = tempDir();
  return parseConfig({ apiKey: TEST_KEY, port: 0, runsDir: join(base, 'runs'), requestLog: false, ...overrides }, base);
}

/** The slice every function needs: config, auth, a memory logger. */
export function baseContext(config: Config = testConfig()) {
  return {
    config,
    log: createMemoryLogger(),
    auth: createKeyCheck(config.apiKey),
    version: 'test',
    startedAt: Date.now(),
  };
}

export const authed = (init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { 'x-api-key': TEST_KEY, ...(init.headers as Record<string, string> | undefined) },
});
