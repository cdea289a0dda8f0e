import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyCheck } from '../../lib/http/auth.ts';
import { type Config, parseConfig } from '../../lib/config.ts';
import { createMemoryLogger } from '../../lib/logger.ts';

export const TEST_KEY = 'test-key-0123456789abcdef';

/** A fresh temporary folder. */
export function tempDir(prefix = 'vidax-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
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
