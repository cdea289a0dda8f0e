import { createKeyCheck } from './auth.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';

/**
 * The services every handler may reach, built once by an adapter. Handlers declare the slice
 * they use (e.g. `HealthContext`), so a test passes only that slice, real or fake.
 */
export interface Context {
  readonly config: Config;
  readonly log: Logger;
  readonly auth: (request: Request) => void;
  readonly version: string;
  readonly startedAt: number;
}

export interface BuildContextOptions {
  config: Config;
  log: Logger;
  version: string;
}

/** Builds the context and its services; `dispose` releases them (the adapter calls it on shutdown). */
export async function buildContext({ config, log, version }: BuildContextOptions): Promise<{
  ctx: Context;
  dispose: () => Promise<void>;
}> {
  const ctx: Context = Object.freeze({
    config,
    log,
    auth: createKeyCheck(config.apiKey),
    version,
    startedAt: Date.now(),
  });
  return { ctx, dispose: async () => {} };
}
