import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { functions } from '../functions/index.ts';
import { ConfigError, loadConfig, type Config } from '../lib/config.ts';
import { type Context, createContext } from '../lib/context.ts';
import type { TerminalFaults } from '../lib/runner/terminal.ts';
import { batchedWriter, createJsonLogger, errorFields, type Logger } from '../lib/logger.ts';
import { createRequestLog } from '../lib/http/request-log.ts';
import { RunsDirInUse } from '../lib/runs/lock.ts';
import { describeComfyUI } from '../lib/comfyui/startup-check.ts';
import { VERSION } from '../lib/version.ts';
import { createApp } from './app.ts';
import { answerClientError, answerConnect } from './client-error.ts';
import { fixOrigin, routedTarget } from './request-target.ts';

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
  /** Test-only fault points (`VIDAX_TEST_FAULT`, see main()). */
  faults?: TerminalFaults;
}

/**
 * Test-only: `VIDAX_TEST_FAULT=crash-after-terminal-event` kills the process (SIGKILL, as a
 * power cut or OOM kill would) right after a run's terminal event lands, before its manifest
 * write: the reliability suite checks recovery from that instant. Unset in production.
 */
function testFaults(env: NodeJS.ProcessEnv, flush: () => void): { faults?: TerminalFaults } {
  if (env.VIDAX_TEST_FAULT !== 'crash-after-terminal-event') return {};
  return {
    faults: {
      afterTerminalEvent: () => {
        flush();
        process.kill(process.pid, 'SIGKILL');
      },
    },
  };
}

/** The soft limit of open files of this process (Linux), or null when it cannot be read. */
function openFilesLimit(): number | null {
  try {
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return soft === undefined || soft === 'unlimited' ? null : Number(soft);
  } catch {
    return null;
  }
}

/**
 * `maxConnections`, lowered so that `fdReserve` file descriptors always stay free for the runner
 * (run files, ComfyUI, ffmpeg) however many clients connect: past the limit Node closes new
 * connections at once instead of running out of descriptors.
 */
function connectionLimit(config: Config, log: Logger): number {
  const fds = openFilesLimit();
  if (fds === null || fds - config.fdReserve >= config.maxConnections) return config.maxConnections;
  const limit = Math.max(16, fds - config.fdReserve);
  log.warn('maxConnections lowered to keep file descriptors for runs', {
    max_connections: limit,
    configured: config.maxConnections,
    open_files_limit: fds,
    fd_reserve: config.fdReserve,
  });
  return limit;
}

/**
 * The Node server over the functions. The adapter's Node listener itself (skips its generic
 * dispatch: Proxy, request-kind checks), behind a fixed origin: the route comes from the request
 * line's path, never from `Host`. What never reaches the router (parser refusals, CONNECT) still
 * gets the JSON error shape and a (rate-limited) log line.
 */
function createHttpServer(ctx: Context, config: Config, log: Logger): Server {
  const listener = createApp(ctx, functions).requestListener;
  // `requireHostHeader: false`: no Host is needed (the origin is fixed), so none is demanded.
  const server = createServer({ requireHostHeader: false, connectionsCheckingInterval: 1000 }, (req, res) => {
    fixOrigin(req);
    listener(req, res);
  });
  server.keepAliveTimeout = 5000;
  // Slow clients: headers within headersTimeoutMs, the whole request within requestTimeoutMs
  // (0: none), checked every second (Node's default check runs every 30 s).
  server.headersTimeout = config.requestTimeoutMs > 0 ? Math.min(config.headersTimeoutMs, config.requestTimeoutMs) : config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  server.maxConnections = connectionLimit(config, log);
  const requestLog = createRequestLog(log, config);
  const logRaw = (method: string | null, path: string | null, status: number | null) => {
    if (config.requestLog && status) requestLog({ request_id: null, method, path, status });
  };
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    logRaw(null, null, answerClientError(err, socket));
  });
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    const key = req.headers['x-api-key'];
    let authorized = true;
    try {
      ctx.auth({ headers: new Headers(typeof key === 'string' ? { 'x-api-key': key } : {}) } as Request);
    } catch {
      authorized = false;
    }
    logRaw('CONNECT', routedTarget(req.url ?? ''), answerConnect(socket, authorized));
  });
  return server;
}

/**
 * Builds the context once (which takes the runs dir's lock: RunsDirInUse if another VIDAX holds
 * it, nothing touched), starts it, mounts the functions, listens. The context's `start()` and
 * `dispose()` are all the lifecycle an adapter calls.
 */
export async function startServer({ config, log, faults }: StartOptions): Promise<RunningServer> {
  const context = createContext({ config, log, version: VERSION, ...(faults ? { faults } : {}) });
  const { ctx } = context;
  let server: Server;
  try {
    await context.start(); // recovery: the store's, then runs left `running` (in the background)
    server = createHttpServer(ctx, config, log);
    server.listen(config.port, config.host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
  } catch (err) {
    await context.dispose().catch(() => {});
    throw err;
  }
  const { port } = server.address() as AddressInfo;
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
        ctx.liveEvents.closeAll(); // open event streams would hold the server open
        await closed;
        await context.dispose(); // releases the runs dir's lock last
      })();
      return closing;
    },
  };
}

/** The process entry: config from the environment, signals, exit codes. */
const USAGE = `usage: node dist/vidax.mjs   (or: npm start)

VIDAX: an HTTP job API in front of ComfyUI. Takes no arguments; configured by
config/vidax.json in the working folder (or the file named by VIDAX_CONFIG) and env overrides:
  VIDAX_API_KEY       the key every request must send in X-API-Key (required, >= 16 chars)
  VIDAX_HOST          address to listen on (default 127.0.0.1)
  VIDAX_PORT          port to listen on (default 8787; 0 = any free port)
  VIDAX_RUNS_DIR      where run directories live (relative: to the working folder)
  VIDAX_COMFYUI_URL   where ComfyUI answers (default http://127.0.0.1:8188)
  VIDAX_WEBHOOKS_SECRET  the webhook signing secret (whsec_...)
  VIDAX_CONFIG        the config file to read
Stops on SIGTERM, SIGINT or SIGHUP after draining (exit 0). Exit 2: bad configuration, or the
runs dir is in use by another VIDAX. See README.md.
`;

async function main(): Promise<void> {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
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
  // Run directories, their files and comfyui.log hold customer data: not world-readable
  // (umask 027: directories 0750, files 0640). Set before anything is created.
  process.umask(Number.parseInt(config.umask, 8));
  // Signals are caught from here on, before the server starts: one that arrives while VIDAX is
  // still starting is honoured as soon as it listens (never the default kill mid-start).
  // The first SIGTERM/SIGINT starts the drain; later ones (npm forwards Ctrl-C a second time,
  // systemd signals the whole group) are logged and ignored. Only the drain deadline or SIGKILL
  // ends the process before the drain is done.
  let running: RunningServer | undefined;
  let stopSignal: string | undefined;
  const drain = (server: RunningServer, signal: string) => {
    log.info('shutting down', { signal });
    const force = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (err) => {
        log.error('shutdown failed', errorFields(err));
        process.exit(1);
      },
    );
  };
  const shutdown = (signal: string) => {
    if (stopSignal) {
      log.warn('already shutting down; signal ignored', { signal });
      return;
    }
    stopSignal = signal;
    if (running) drain(running, signal);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => shutdown('SIGHUP'));
  try {
    running = await startServer({ config, log, ...testFaults(process.env, out.flush) });
  } catch (err) {
    if (!(err instanceof RunsDirInUse)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  log.info('listening', { url: running.url, runs_dir: config.runsDir, version: VERSION });
  process.stderr.write(`VIDAX ${VERSION} listening on ${running.url} (runs in ${config.runsDir})\n`);
  const comfyui = describeComfyUI(config.comfyui, process.cwd());
  process.stderr.write(`${comfyui.line}\n`);
  for (const warning of comfyui.warnings) {
    log.warn('comfyui config', { warning });
    process.stderr.write(`warning: ${warning}\n`);
  }
  if (stopSignal) drain(running, stopSignal);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    process.stderr.write(`VIDAX failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
