import { createKeyCheck } from './http/auth.ts';
import { type ComfyUIClient, createComfyUIClient } from './comfyui/client.ts';
import { createEventStream, type EventStream } from './comfyui/events.ts';
import { createProcessManager, type ProcessManager } from './comfyui/process-manager.ts';
import type { Config } from './config.ts';
import { sweepStaging } from './inputs/staging.ts';
import { createJobParser, type JobParser } from './jobs/job-parser.ts';
import { createJobLoader } from './jobs/job-loader.ts';
import { createUrlGuard, type UrlGuard } from './net/url-guard.ts';
import { createRunner, type Runner } from './runner/runner.ts';
import type { TerminalFaults } from './runner/terminal.ts';
import { errorFields, type Logger } from './logger.ts';
import { createLiveEvents, type LiveEvents } from './runs/live-events.ts';
import { createMedia, type Media } from './media/service.ts';
import { lockRunsDir, type RunsDirLock } from './runs/lock.ts';
import { createRunStore, type RunStore } from './runs/store.ts';
import { createWebhooks } from './webhooks/service.ts';
import { createWebhookTransport } from './webhooks/transport.ts';

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
  /** HTTP client of ComfyUI at config.comfyui.url. */
  readonly comfyui: ComfyUIClient;
  /** The one WebSocket event stream to ComfyUI (lazy: connects on first use). */
  readonly comfyuiEvents: EventStream;
  /** Starts, adopts, supervises and stops ComfyUI. */
  readonly processManager: ProcessManager;
  /** Runs on disk under config.runsDir (the source of truth; memory is a bounded cache). */
  readonly runs: RunStore;
  /** ffmpeg and ffprobe as found at start (versions, libvidstab, encoders). */
  readonly media: Media;
  /** Drives runs through ComfyUI; `recover()` re-attaches runs after a restart. */
  readonly runner: Runner;
  /** The outbound guard URL inputs are fetched through (config.inputs.urlAllow). */
  readonly inputGuard: UrlGuard;
  /** Watchers of runs' event logs (GET /jobs/:id/events): one hub per watched run. */
  readonly liveEvents: LiveEvents;
  /** Parses and validates large job bodies off the event loop. */
  readonly jobParser: JobParser;
}

export interface ContextOptions {
  config: Config;
  log: Logger;
  version: string;
  /** Test-only fault points: the reliability suite crashes VIDAX at an exact instant with them. */
  faults?: TerminalFaults;
}

/** The context and its lifecycle: an adapter calls `start()` once before serving and `dispose()` once at the end. */
export interface ContextLifecycle {
  readonly ctx: Context;
  /**
   * Start-up work, in order: the run store's recovery (half-created runs and temp files a crash
   * left; touches only the .active index), the input staging sweep, taking over a managed
   * ComfyUI the previous VIDAX left running, then in the background the
   * webhook deliveries a previous process left pending and the runner's recovery of runs it
   * left `running` (re-attached or failed).
   */
  start(): Promise<void>;
  /**
   * Releases every service (timers, sockets, the parser thread, children it owns), then the runs
   * dir's lock; runs in flight stay `running` for the next start to recover. Idempotent.
   */
  dispose(): Promise<void>;
}

/**
 * Takes the runs dir's lock first (one VIDAX per runs dir: RunsDirInUse naming the owner's pid
 * if another holds it, and nothing in the folder touched), then builds the context and its
 * services; `start()` does the start-up work, `dispose()` releases everything and the lock.
 */
export function createContext(options: ContextOptions): ContextLifecycle {
  const lock = lockRunsDir(options.config.runsDir);
  try {
    return buildContext(options, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

function buildContext({ config, log, version, faults }: ContextOptions, lock: RunsDirLock): ContextLifecycle {
  // One parser thread for what is large: job bodies (POST /jobs), stored jobs of starting runs,
  // ComfyUI's /history and /queue replies that repeat a large graph.
  const jobParser = createJobParser({ offThreadBytes: config.jobParserOffThreadBytes, maxQueued: config.jobParserMaxQueued });
  const comfyui = createComfyUIClient({
    url: config.comfyui.url,
    requestTimeoutMs: config.comfyui.requestTimeoutMs,
    maxReplyBytes: config.comfyui.maxReplyBytes,
    parseLargeReply: (bytes, kind) => jobParser.comfyuiReply(bytes, kind),
    shareQueueMs: 500, // every run polls /queue each second: one request serves them all
  });
  const comfyuiEvents = createEventStream({ url: config.comfyui.url, log, maxMessageBytes: config.comfyui.maxMessageBytes });
  const processManager = createProcessManager({ config: config.comfyui, client: comfyui, log });
  const store = createRunStore({ runsDir: config.runsDir, log, cacheBytes: config.manifestCacheBytes });
  // Signed deliveries of run events hook into the store's create and appendEvent (lib/webhooks/).
  const jobs = createJobLoader(store, jobParser);
  const webhooks = createWebhooks({
    config: config.webhooks,
    runs: store,
    transport: createWebhookTransport(config.webhooks),
    log,
    version,
    readJobSummary: jobs.summary,
  });
  const runs = webhooks.runs;
  const inputGuard = createUrlGuard({
    allow: config.inputs.urlAllow,
    allowLoopback: config.inputs.unsafeAllowLoopback,
    maxBytes: config.inputs.maxFileBytes,
    timeoutMs: config.inputs.urlTimeoutMs,
    maxRedirects: config.inputs.urlMaxRedirects,
  });
  const media = createMedia(config.media); // detection runs in the background; /health and phases wait for it
  const ctx: Context = Object.freeze({
    config,
    log,
    auth: createKeyCheck(config.apiKey),
    version,
    startedAt: Date.now(),
    comfyui,
    comfyuiEvents,
    processManager,
    runs,
    liveEvents: createLiveEvents(runs),
    media,
    runner: createRunner({
      ...(faults ? { faults } : {}),
      jobs,
      runs,
      comfyui,
      events: comfyuiEvents,
      processManager,
      log,
      media,
      defaultTimeoutS: config.defaultTimeoutS,
      inputs: { guard: inputGuard, maxFileBytes: config.inputs.maxFileBytes },
    }),
    inputGuard,
    jobParser,
  });
  /** Every service, in order; the lock is released after this. */
  async function release(): Promise<void> {
    ctx.liveEvents.closeAll(); // event streams end (clients resume with Last-Event-ID)
    await ctx.jobParser.close();
    await ctx.runner.close(); // runs in flight stay `running`; the next start re-attaches or fails them
    comfyuiEvents.close();
    await processManager.close(); // stops a managed ComfyUI only with comfyui.stopOnExit; never an adopted one
    await comfyui.close();
    await webhooks.close(); // pending deliveries stay recorded for the next start
    await inputGuard.close();
    await runs.close(); // pending manifest writes and events land before exit
  }
  let started: Promise<void> | undefined;
  let disposed: Promise<void> | undefined;
  return {
    ctx,
    start() {
      started ??= (async () => {
        await store.recover();
        void webhooks.start(); // pending deliveries of a previous process, in the background
        await sweepStaging(store.runsDir); // uploads a crash cut off belong to no run
        // A managed ComfyUI the previous VIDAX left running is taken over first, so a crash of it
        // fails the runs recovery re-attaches.
        processManager.adoptPrevious();
        ctx.runner.recover().catch((err) => log.error('run recovery failed', errorFields(err)));
      })();
      return started;
    },
    dispose() {
      disposed ??= (async () => {
        try {
          await release();
        } finally {
          lock.release(); // last: until every write has landed, the folder is ours
        }
      })();
      return disposed;
    },
  };
}
