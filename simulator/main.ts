// Entry point: `node --import tsx simulator/main.ts --listen 127.0.0.1 --port 8188 [flags]`.
// A stand-in for ComfyUI's main.py (not ComfyUI): same argv shape, same ready line, same HTTP/WS API.
import { mkdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { totalmem } from 'node:os';
import { ArgError, createLog, parseSimArgs, type SimOptions } from './args.ts';
import { createSim, type RunningSim } from './server.ts';

const USAGE = `usage: npm run sim -- [--listen [IP]] [--port PORT] [flags]
   or: node --import tsx simulator/main.ts [same flags]

The VIDAX ComfyUI simulator: ComfyUI 0.3.64's HTTP + WebSocket API, no models, no GPU.
  --listen [IP]              address (default 127.0.0.1; bare --listen: 0.0.0.0)
  --port N                   port (default 8188; 0 = any free port)
  --output-directory D, --input-directory D, --temp-directory D, --base-directory D
                             folders (default: a fresh folder under the OS temp folder,
                             removed when the simulator stops)
  --cache-none               re-run every node
  --max-upload-size MB       request body limit (default 100)
  --version-string V         ComfyUI version to emulate (default 0.3.64)
Faults (each also an env var): --startup-delay-ms N (SIM_STARTUP_DELAY_MS), --never-ready
(SIM_NEVER_READY=1), --exit-at-start CODE (SIM_EXIT_AT_START), --crash-after-ms N
(SIM_CRASH_AFTER_MS), --fail-node CLASS (SIM_FAIL_NODE), --silent-ws (SIM_SILENT_WS=1),
--hang-http (SIM_HANG_HTTP=1). Other ComfyUI flags are accepted and ignored.
Stops on SIGTERM or SIGINT (exit 0).
`;

async function main(): Promise<void> {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  // Like ComfyUI (Python ignores SIGPIPE; its logging swallows the write error), losing the
  // reader of stdout/stderr (e.g. the VIDAX that started it was killed) must not stop the server.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  let opts: SimOptions;
  try {
    opts = parseSimArgs(process.argv.slice(2), process.env);
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    process.stderr.write(`usage: main.py [-h] [--listen [IP]] [--port PORT] ...\nmain.py: error: ${e.message}\n`);
    process.exit(2);
  }
  const log = createLog(opts);
  // The default dirs live in a fresh folder of the OS temp folder: it goes with the process,
  // however it ends (a signal, --exit-at-start, --crash-after-ms).
  if (opts.ownBase) process.on('exit', () => rmSync(opts.ownBase as string, { recursive: true, force: true }));
  let running: RunningSim | null = null;
  const stop = (signal: string) => {
    if (signal === 'SIGINT') log.info('\nStopped server');
    running?.close();
    rmSync(opts.tempDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  log.info('VIDAX ComfyUI simulator (a stand-in for ComfyUI, no models, no GPU)');
  if (process.argv.includes('--output-directory')) log.info(`Setting output directory to: ${opts.outputDir}`);
  if (process.argv.includes('--input-directory')) log.info(`Setting input directory to: ${opts.inputDir}`);
  const mb = Math.round(totalmem() / 1048576);
  log.info(`Total VRAM ${mb} MB, total RAM ${mb} MB`);
  log.info('pytorch version: 2.8.0+cpu (simulated)');
  log.info('Set vram state to: DISABLED');
  log.info('Device: cpu');
  log.info('Python version: 3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]');
  log.info(`ComfyUI version: ${opts.version}`);
  if (opts.exitAtStart !== null) {
    log.error('Traceback (most recent call last):\n  File "/opt/ComfyUI/main.py", line 1, in <module>');
    log.error(`RuntimeError: simulated startup failure (--exit-at-start ${opts.exitAtStart})`);
    process.exit(opts.exitAtStart);
  }
  rmSync(opts.tempDir, { recursive: true, force: true });
  for (const d of [opts.outputDir, opts.inputDir, opts.tempDir]) mkdirSync(d, { recursive: true });
  log.info('[Prompt Server] web root: (simulator, no frontend)');
  if (opts.startupDelayMs > 0) await new Promise((r) => setTimeout(r, opts.startupDelayMs));
  log.info('Import times for custom nodes:\n   0.0 seconds: vidax_simulator');
  if (opts.neverReady) {
    log.info('Simulator: --never-ready, this process will never listen');
    setInterval(() => {}, 1 << 30);
    return;
  }
  running = createSim(opts, log);
  const server = running.server;
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE') {
      log.error(`Port ${opts.port} is already in use on address ${opts.listen}. Please close the other application or use a different port with --port.`);
    } else {
      log.error(`Failed to start server: ${e.message}`);
    }
    process.exit(1);
  });
  server.listen(opts.port, opts.listen, () => {
    const port = (server.address() as AddressInfo).port;
    if (opts.dontPrintServer) return;
    const host = opts.listen === '0.0.0.0' || opts.listen === '::' ? '127.0.0.1' : opts.listen.includes(':') ? `[${opts.listen}]` : opts.listen;
    log.info('Starting server\n');
    log.info(`To see the GUI go to: http://${host}:${port}`);
  });
}

void main();
