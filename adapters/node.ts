import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { functions } from '../functions/index.ts';
import { ConfigError, loadConfig, type Config } from '../lib/config.ts';
import { buildContext, type Context } from '../lib/context.ts';
import { batchedWriter, createJsonLogger, errorFields, type Logger } from '../lib/logger.ts';
import { VERSION } from '../lib/version.ts';
import { createApp } from './app.ts';
import { answerClientError } from './client-error.ts';

export interface RunningServer {
  readonly server: Server;
  readonly url: string;
  readonly ctx: Context;
  /** Stops accepting, finishes in-flight requests, disposes services. */
  close(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  log: Logger;
}

/** Builds the context once, mounts the functions, listens. */
export async function startServer({ config, log }: StartOptions): Promise<RunningServer> {
  const { ctx, dispose } = await buildContext({ config, log, version: VERSION });
  // The adapter's Node listener itself: skips its generic dispatch (Proxy, request-kind checks).
  const server = createServer(createApp(ctx, functions).requestListener);
  server.keepAliveTimeout = 5000;
  server.on('clientError', answerClientError);
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  // Runs a previous process left `running`: re-attached or failed, in the background.
  ctx.runner.recover().catch((err) => log.error('run recovery failed', errorFields(err)));
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${host}:${port}`,
    ctx,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await closed;
        await dispose();
      })();
      return closing;
    },
  };
}

/** The process entry: config from the environment, signals, exit codes. */
async function main(): Promise<void> {
  const out = batchedWriter((data) => process.stdout.write(data));
  process.on('exit', out.flush);
  const log = createJsonLogger(out.write);
  let config: Config;
  try {
    config = loadConfig({ env: process.env, cwd: process.cwd() });
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const running = await startServer({ config, log });
  log.info('listening', { url: running.url, runs_dir: config.runsDir, version: VERSION });
  process.stderr.write(`VIDAX ${VERSION} listening on ${running.url}\n`);
  const shutdown = (signal: string) => {
    log.info('shutting down', { signal });
    const force = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (err) => {
        log.error('shutdown failed', errorFields(err));
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    process.stderr.write(`VIDAX failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
