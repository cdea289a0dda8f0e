import { stat } from 'node:fs/promises';
import { writeFileAtomic } from '../files/atomic-file.ts';
import { createTerminalWriter, type TerminalFaults } from './terminal.ts';
import type { ComfyUIClient } from '../comfyui/client.ts';
import { mintPromptId } from '../comfyui/client.ts';
import { isComfyUIError } from '../comfyui/errors.ts';
import type { EventStream } from '../comfyui/events.ts';
import { type RunError, runError, VidaxError, vidaxError } from '../errors.ts';
import { errorFields, type Logger } from '../logger.ts';
import { type ComfyUIPhaseIO, type ComfyUIPhaseResult, finishPrompt } from './comfyui-phase.ts';
import { CANCEL_REASON, type CancelOutcome, cancelledError, cancelRun, cutPhase, isCancelled } from './cancel.ts';
import { finishRun, type RunSteps } from './finish-run.ts';
import { createLipsync } from './lipsync-phase.ts';
import { runMediaPhases } from './media-phases.ts';
import type { Media } from '../media/service.ts';
import { createPhasePatcher } from './phase-patcher.ts';

type PhasePatcher = ReturnType<typeof createPhasePatcher>;
/**
 * The first this-many ms of a comfyui phase write no patch (progress, queue position) of their
 * own: a short prompt then writes none mid-run (its fields join the phase's closing write).
 */
const PATCH_QUIET_MS = 200;
import { probePrompt } from './recover.ts';
import { settleLoggedEnd } from './settle-logged.ts';
import { type Manifest, PHASES, type PhaseName } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';
import { beginPhase, endPhase, failRun } from './phases.ts';
import { settledWithin, unshowWait, WAIT_VISIBLE_MS, waitForComfyUI } from './wait-comfyui.ts';
import { prepareWorkflow, type Workflow } from './prepare.ts';
import { fetchUrlInputs, PrepareError, uploadInputs, urlInputs } from '../inputs/prepare-inputs.ts';
import type { UrlGuard } from '../net/url-guard.ts';
import type { Job } from '../jobs/schema.ts';
import type { JobSummary } from '../jobs/job-parser.ts';
import { inlineJobLoader, type JobLoader } from '../jobs/job-loader.ts';
import type { StartAtCreate } from '../runs/types.ts';

export interface RunnerDeps {
  runs: Pick<RunStore, 'get' | 'readJob' | 'paths' | 'update' | 'appendEvent' | 'listActive' | 'readEvents'>;
  comfyui: ComfyUIClient;
  events: EventStream;
  processManager: { ensureComfyUI(): Promise<unknown>; onCrash(listener: (info: { message?: string }) => void): () => void };
  log: Logger;
  /** ffmpeg/ffprobe for the media phases (stabilize, lipsync, encode). */
  media: Media;
  defaultTimeoutS: number;
  pollMs?: number;
  unreachableMs?: number;
  progressEveryMs?: number;
  /** How long to wait for the event socket before submitting anyway (history polling covers it). */
  eventsReadyMs?: number;
  /** At recovery, how long to wait before a second look for a prompt that was not found. */
  recoverGraceMs?: number;
  /** How long a recovery probe waits for ComfyUI before the run counts as "not known yet" (default 5000). */
  recoverProbeTimeoutMs?: number;
  /** First delay before a "not known yet" run is probed again (doubling to 60 s; default 1000). */
  recoverRetryMs?: number;
  /** URL inputs: the outbound guard and the per-file cap (without it, URL inputs fail prepare). */
  inputs?: { guard: Pick<UrlGuard, 'download'>; maxFileBytes: number };
  /** Reads runs' jobs (off the event loop when large); default: through `runs.readJob`, in this thread. */
  jobs?: JobLoader;
  /** Test-only fault points (a crash at a chosen instant); none in production. */
  faults?: TerminalFaults;
}

export interface Runner {
  /** POST /jobs/:id/start: 404/409 checks, ComfyUI made healthy, the run claimed and launched. */
  start(runId: string): Promise<{ run_id: string; run_status: 'running' }>;
  /**
   * `"start": true` on POST /jobs, before the run is written: when the job needs no prepare work
   * (no inputs to fetch or upload, a body small enough to parse here) and ComfyUI is healthy
   * within WAIT_VISIBLE_MS, the claim and workflow.json for `RunStore.create` to write with the
   * run, and `launch` to call once it is durable. Else null: create queued, then `start` (which
   * gives the same errors and the visible wait for ComfyUI as two separate calls).
   */
  startAtCreate(job: JobSummary, jobText: Uint8Array | string): Promise<CreateStart | null>;
  /** POST /jobs/:id/cancel: queued → failed CANCELLED (200); running → recorded, then stopped (202). */
  cancel(runId: string): Promise<CancelOutcome>;
  /** Resolves when the run's work here settles, after `ms`, or when `signal` aborts, whichever is first. */
  waitFor(runId: string, ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * At start-up: re-attach runs a previous process left running whose prompt ComfyUI has, fail
   * those ComfyUI answers without, and look again later (in the background) at those it could
   * not be asked about (`deferred`).
   */
  recover(): Promise<{ reattached: string[]; failed: string[]; deferred?: string[]; settled?: string[] }>;
  /** Resolves once no run is in flight (tests). */
  settled(): Promise<void>;
  /** Stops waiting on ComfyUI; runs in flight stay `running` for the next start to recover. */
  close(): Promise<void>;
}

/** A start decided before the run exists (see `Runner.startAtCreate`). */
export interface CreateStart {
  start(id: string): StartAtCreate;
  launch(id: string): void;
}

/** How long a health check of ComfyUI stands for a start at create (see `healthyNow`). */
const HEALTHY_FRESH_MS = 1000;

/** Jobs up to this size are parsed on the loop for a start at create (larger ones: `start`). */
const START_AT_CREATE_MAX_BYTES = 256 * 1024;

/** The claim of a run's comfyui phase: running, prepare done (workflow.json), the prompt id minted. */
function claimComfyUI(m: Manifest, promptId: string, now: string): void {
  m.run_status = 'running';
  m.started_at = now;
  delete m.phases.prepare.waiting_for;
  beginPhase(m, 'prepare');
  endPhase(m, 'prepare', 'completed', { workflow: 'workflow.json' });
  beginPhase(m, 'comfyui', { prompt_id: promptId, progress: null, queue_position: null });
}

const alreadyStarted = (id: string, status: string) =>
  vidaxError('run_already_started', `run ${id} is ${status}; only a queued run can be started`);

export function createRunner(deps: RunnerDeps): Runner {
  const { runs, comfyui, log } = deps;
  const jobs = deps.jobs ?? inlineJobLoader(runs);
  const inflight = new Map<string, { promise: Promise<void>; abort: AbortController }>();
  const starting = new Set<string>();
  /** Starts whose wait for ComfyUI shows (prepare `running`), for the 409's message. */
  const waiting = new Set<string>();
  /** Runs a cancel was accepted for; a launch still to come aborts at once. */
  const cancelRequested = new Set<string>();
  let closed = false;

  const event = (id: string, type: string, fields: Record<string, unknown> = {}) =>
    runs.appendEvent(id, type, fields).catch((err) => log.error('event append failed', { run_id: id, type, ...errorFields(err) }));

  deps.processManager.onCrash((info) => {
    for (const { abort } of inflight.values()) {
      abort.abort({ kind: 'crashed', message: `the managed ComfyUI exited unexpectedly${info.message ? `: ${info.message}` : ''}` });
    }
  });

  /**
   * ComfyUI's last good health check (`ensureComfyUI`) for a start at create, and the event socket
   * it was made over: a crash or any change of that socket forgets it.
   */
  let healthy: { at: number; socket: string } | null = null;
  deps.processManager.onCrash(() => {
    healthy = null;
  });
  deps.events.onConnectionChange(() => {
    healthy = null;
  });

  /**
   * For a start at create: ComfyUI made healthy (as `start` does) within WAIT_VISIBLE_MS, so the
   * wait never has to show; false if slower or failing (the caller takes the two-step path). A
   * check at most HEALTHY_FRESH_MS old over the same, still open event socket stands (a ComfyUI
   * that exits closes that socket at once); otherwise ComfyUI is asked again.
   */
  async function healthyNow(): Promise<boolean> {
    const socket = deps.events.clientId;
    if (socket !== null && healthy?.socket === socket && Date.now() - healthy.at < HEALTHY_FRESH_MS) return true;
    const ready = deps.processManager.ensureComfyUI();
    const fast = await settledWithin(ready.then(() => true, () => false), WAIT_VISIBLE_MS, false);
    if (fast && socket !== null && deps.events.clientId === socket) healthy = { at: Date.now(), socket };
    return fast;
  }

  /** The one way a run ends: its terminal event once, then its manifest, each retried until it lands. */
  const terminal = createTerminalWriter(runs, log, deps.faults);

  /** Fails the run; its events land first, so a reader who sees the manifest end finds them. */
  async function fail(id: string, phase: PhaseName, error: RunError): Promise<void> {
    void event(id, 'phase.failed', { phase, code: error.code, message: error.message });
    await terminal.end(id, { type: 'run.failed', fields: { code: error.code } }, (m) => failRun(m, phase, error));
  }

  const timing = { pollMs: deps.pollMs ?? 1000, unreachableMs: deps.unreachableMs ?? 15_000, progressEveryMs: deps.progressEveryMs ?? 500 };
  const lipsync = createLipsync({ comfyui, events: deps.events, media: deps.media, event, defaultTimeoutS: deps.defaultTimeoutS, ...timing });
  const steps: RunSteps = { runs, event, fail, end: terminal.end, media: deps.media, lipsync, progressEveryMs: timing.progressEveryMs };

  /** What both paths need once a run is running: its job, deadline budget, files and phase I/O. */
  async function runScope(id: string, abort: AbortController, promptId: string, known?: JobSummary) {
    const job = known ?? (await jobs.summary(id));
    const paths = runs.paths(id);
    const timeoutS = job.timeout_s ?? deps.defaultTimeoutS;
    const patcher = createPhasePatcher(runs, id, log, PATCH_QUIET_MS);
    const io = phaseIO(id, abort, patcher.patch);
    const where = { promptId, timeoutS, outputsDir: paths.outputs, workdir: paths.workdir };
    return { job, timeoutS, patcher, io, where };
  }

  /**
   * Fresh start (after `start` or the background prepare claimed the run and wrote its graph):
   * submit the prompt once the event socket is ready (at most `eventsReadyMs`), await it,
   * collect its outputs, then the media phases and the end of the run (`complete`).
   */
  async function freshRun(
    id: string,
    abort: AbortController,
    promptId: string,
    graph: Workflow | Uint8Array,
    known?: JobSummary,
    written?: Promise<Error | undefined>,
  ): Promise<void> {
    if (isCancelled(abort.signal)) return fail(id, 'comfyui', cancelledError('comfyui')); // never submitted
    const { job, timeoutS, patcher, io, where } = await runScope(id, abort, promptId, known);
    const deadline = Date.now() + timeoutS * 1000;
    const clientId = await deps.events.ready(deps.eventsReadyMs ?? 2000).catch(() => null);
    const started = { phase: 'comfyui', prompt_id: promptId, client_id: clientId, events: clientId !== null };
    if (!written) void event(id, 'phase.started', started);
    let refused: RunError | null = null;
    let unwritten: Error | undefined;
    const submit = async () => {
      try {
        const sending = comfyui.submit({ prompt: graph, promptId, ...(clientId ? { clientId } : {}) });
        if (written) {
          // workflow.json is being written beside the submit: the prepare phase ends with it.
          sending.catch(() => {}); // awaited below
          unwritten = await written;
          if (unwritten) throw unwritten;
          void event(id, 'phase.completed', { phase: 'prepare' });
          void event(id, 'phase.started', started);
        }
        const submitted = await sending;
        void event(id, 'comfyui.queued', { prompt_id: promptId, number: submitted.number, node_errors: submitted.node_errors });
      } catch (err) {
        if (!unwritten) refused = isComfyUIError(err) ? err.toRunError() : runError('COMFYUI_SUBMIT_FAILED', (err as Error).message);
        throw err;
      }
    };
    let result: ComfyUIPhaseResult;
    try {
      result = await finishPrompt(io, { ...where, deadline }, submit);
    } catch (err) {
      await patcher.drain();
      if (unwritten) {
        await dropPrompt(promptId); // it may have reached ComfyUI: nothing runs without a run
        return fail(id, 'prepare', runError('PREPARE_FAILED', `writing workflow.json failed: ${unwritten.message}`));
      }
      if (refused) return fail(id, 'comfyui', refused);
      throw err; // not ComfyUI's answer: RUNNER_ERROR in launchWork()
    }
    return complete(id, abort, job, patcher, result);
  }

  /**
   * Re-attach (at recovery: a run a previous process left running whose prompt ComfyUI still
   * has): no submit; await the prompt against the deadline it had from its start, then the same
   * steps as a fresh run.
   */
  async function reattachedRun(id: string, abort: AbortController, promptId: string): Promise<void> {
    const { job, timeoutS, patcher, io, where } = await runScope(id, abort, promptId);
    const rewritten = rewriteWorkflow(id); // beside the wait (nothing else writes it now), done before the run ends
    const m = await runs.get(id);
    const started = Date.parse(String(m.phases.comfyui.started_at ?? '')) || Date.now();
    void event(id, 'run.reattached', { prompt_id: promptId });
    const result = await finishPrompt(io, { ...where, deadline: started + timeoutS * 1000 });
    await rewritten;
    return complete(id, abort, job, patcher, result);
  }

  /**
   * A plain run (no uploaded inputs) killed while its workflow.json was written beside the
   * submit: written again from job.json (the same graph; best effort).
   */
  async function rewriteWorkflow(id: string): Promise<void> {
    const path = runs.paths(id).workflow;
    if (await stat(path).catch(() => null)) return;
    try {
      const { graph } = await jobs.prepare(id, null); // null: a run with inputs (its graph needs their uploads)
      if (graph) await writeFileAtomic(path, graph);
    } catch (err) {
      log.error('workflow.json could not be written again', { run_id: id, ...errorFields(err) });
    }
  }

  /** Recovery of a run past its comfyui phase: the media phases go on from their inputs. */
  async function mediaRun(id: string, abort: AbortController): Promise<void> {
    const job = await jobs.summary(id);
    void event(id, 'run.reattached', { phase: 'media' });
    return runMediaPhases(steps, id, job, abort.signal);
  }

  /** The common end of both paths: progress writes drained, then `finishRun` (media phases, one completion). */
  async function complete(id: string, abort: AbortController, job: JobSummary, patcher: PhasePatcher, result: ComfyUIPhaseResult): Promise<void> {
    // A progress/queue patch still waiting goes into the comfyui phase's closing write.
    const late = result.ok ? patcher.take() : null;
    await patcher.drain();
    return finishRun(steps, id, job, result, abort.signal, late);
  }

  function phaseIO(id: string, abort: AbortController, patchPhase: (f: Record<string, unknown>) => void): ComfyUIPhaseIO {
    return {
      comfyui,
      events: deps.events,
      event: (type, fields) => void event(id, type, fields),
      patchPhase,
      signal: abort.signal,
      pollMs: deps.pollMs ?? 1000,
      unreachableMs: deps.unreachableMs ?? 15_000,
      progressEveryMs: deps.progressEveryMs ?? 500,
    };
  }


  /**
   * The prepare phase of a job with inputs, in the background: URL inputs fetched through the
   * guard, referenced inputs uploaded to ComfyUI, then the same claim of the comfyui phase and
   * workflow.json as a plain job, and on to execute.
   */
  async function prepareInputs(id: string, job: JobSummary, abort: AbortController): Promise<void> {
    const paths = runs.paths(id);
    const params = job.params ?? [];
    let graph: Uint8Array;
    try {
      const wanted = urlInputs(job);
      if (wanted.length > 0) {
        if (!deps.inputs) throw new PrepareError('INPUT_FETCH_FAILED', 'URL inputs are not enabled on this server', { reason: 'refused' });
        const fetched = await fetchUrlInputs(deps.inputs.guard, paths.inputs, wanted, deps.inputs.maxFileBytes, abort.signal);
        await runs.update(id, (cur) => {
          cur.inputs = [...(cur.inputs ?? []), ...fetched].sort((a, b) => (a.name < b.name ? -1 : 1));
        });
      }
      const named = new Set(params.flatMap((p) => (p.input_file === undefined ? [] : [p.input_file])));
      const entries = (await runs.get(id)).inputs ?? [];
      const uploaded = await uploadInputs(comfyui, id, paths.inputs, entries, named, abort.signal);
      graph = (await jobs.prepare(id, uploaded)).graph as Uint8Array;
    } catch (err) {
      if (isCancelled(abort.signal)) return fail(id, 'prepare', cancelledError('prepare'));
      if ((abort.signal.reason as { kind?: string } | undefined)?.kind === 'stopped') return; // the run stays running for recovery
      if (err instanceof PrepareError) return fail(id, 'prepare', runError(err.code, err.message, err.details));
      throw err;
    }
    const promptId = mintPromptId();
    await runs.update(id, (cur) => {
      endPhase(cur, 'prepare', 'completed', { workflow: 'workflow.json' });
      beginPhase(cur, 'comfyui', { prompt_id: promptId, progress: null, queue_position: null });
    });
    try {
      await writeFileAtomic(paths.workflow, graph);
    } catch (err) {
      return fail(id, 'prepare', runError('PREPARE_FAILED', `writing workflow.json failed: ${(err as Error).message}`));
    }
    void event(id, 'phase.completed', { phase: 'prepare' });
    return freshRun(id, abort, promptId, graph, job);
  }

  function launchWork(id: string, run: (abort: AbortController) => Promise<void>): void {
    const abort = new AbortController();
    const work = run(abort);
    const promise = work
      .catch(async (err) => {
        log.error('run failed unexpectedly', { run_id: id, ...errorFields(err) });
        const m = await runs.get(id).catch(() => null);
        const phase = PHASES.find((p) => m?.phases[p].status === 'running') ?? 'prepare';
        await fail(id, phase, runError('RUNNER_ERROR', (err as Error).message)).catch(() => {});
      })
      .finally(() => {
        inflight.delete(id);
        cancelRequested.delete(id);
      });
    inflight.set(id, { promise, abort });
    if (cancelRequested.has(id)) abort.abort(CANCEL_REASON);
  }

  /** Probes at recovery wait at most this long for ComfyUI (a hanging one is "not known yet"). */
  const probeTimeoutMs = deps.recoverProbeTimeoutMs ?? 5000;

  /** Stops a prompt VIDAX gives up on: interrupted if it runs, dropped if it waits (best effort, bounded). */
  async function dropPrompt(promptId: string): Promise<void> {
    await comfyui.interrupt(promptId, { timeoutMs: probeTimeoutMs }).catch(() => {});
    await comfyui.deleteQueued([promptId], { timeoutMs: probeTimeoutMs }).catch(() => {});
  }

  function failLost(m: Manifest, promptId: string | null, why: string): Promise<void> {
    const phase: PhaseName = m.phases.comfyui.status === 'completed' ? 'encode' : promptId ? 'comfyui' : 'prepare';
    return fail(m.run_id, phase, runError('COMFYUI_PROMPT_LOST', why, { prompt_id: promptId }));
  }

  /**
   * A run whose prompt ComfyUI could not be asked about at recovery: looked at again with
   * back-off (1 s doubling to 60 s) until ComfyUI answers. Found: re-attached. Absent twice,
   * 1.5 s apart: COMFYUI_PROMPT_LOST. A cancel fails it CANCELLED (its prompt dropped); a stop
   * leaves it running for the next start.
   */
  async function recoverLater(m: Manifest, promptId: string, abort: AbortController): Promise<void> {
    let absent = 0;
    for (let delay = deps.recoverRetryMs ?? 1000; ; delay = Math.min(delay * 2, 60_000)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, absent > 0 ? (deps.recoverGraceMs ?? 1500) : delay);
        abort.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
      if (isCancelled(abort.signal)) {
        await dropPrompt(promptId);
        return fail(m.run_id, 'comfyui', cancelledError('comfyui'));
      }
      if (abort.signal.aborted) return; // stopping (or ComfyUI crashed): stays running for recovery
      const probe = await probePrompt(comfyui, m, probeTimeoutMs);
      if (probe.state === 'found') return reattachedRun(m.run_id, abort, promptId);
      if (probe.state === 'absent') {
        if (++absent >= 2) return failLost(m, promptId, probe.why);
      } else absent = 0;
    }
  }

  return {
    async start(id) {
      if (closed) throw vidaxError('shutting_down', 'VIDAX is shutting down');
      const m = await runs.get(id);
      if (m.run_status !== 'queued' || starting.has(id)) {
        throw alreadyStarted(id, waiting.has(id) ? 'starting (waiting for ComfyUI to become ready)' : starting.has(id) ? 'starting' : m.run_status);
      }
      starting.add(id);
      try {
        try {
          await waitForComfyUI({ runs, event, waiting }, id, deps.processManager.ensureComfyUI());
          if (closed) throw vidaxError('shutting_down', 'VIDAX is shutting down');
        } catch (err) {
          const code = err instanceof VidaxError ? err.code : 'COMFYUI_START_FAILED';
          await event(id, 'run.start_failed', { code, message: (err as Error).message, run_status: 'queued' });
          throw err;
        }
        // Claim the run with one durable write (running, prepare done, prompt id minted), then
        // write workflow.json: the claim first, so a crash mid-write leaves its temp file in a
        // run the store's recovery sweeps.
        // The job's summary and, without inputs to fetch or upload first, workflow.json's bytes:
        // a large job is parsed and its graph built and serialised on the parser thread.
        const { job, graph } = await jobs.prepare(id, null);
        if (graph === null) {
          // Inputs to fetch or upload: prepare runs in the background (it may take minutes).
          await runs.update(id, (cur) => {
            if (cur.run_status !== 'queued') throw alreadyStarted(id, cur.run_status);
            cur.run_status = 'running';
            cur.started_at = new Date().toISOString();
            delete cur.phases.prepare.waiting_for;
            beginPhase(cur, 'prepare');
          });
          void event(id, 'run.started');
          void event(id, 'phase.started', { phase: 'prepare' });
          launchWork(id, (abort) => prepareInputs(id, job, abort));
          return { run_id: id, run_status: 'running' };
        }
        const promptId = mintPromptId();
        const now = new Date().toISOString();
        await runs.update(id, (cur) => {
          if (cur.run_status !== 'queued') throw alreadyStarted(id, cur.run_status);
          claimComfyUI(cur, promptId, now);
        });
        // workflow.json is written beside the submit (which goes out once the claim is durable);
        // the start answers once it is durable. A crash in between: recovery re-attaches the
        // prompt if it reached ComfyUI and writes workflow.json again (`reattachedRun`).
        const written = writeFileAtomic(runs.paths(id).workflow, graph).then(
          () => undefined,
          (err: unknown) => err as Error,
        );
        void event(id, 'run.started'); // the run's event log keeps the order of appends
        void event(id, 'phase.started', { phase: 'prepare' });
        launchWork(id, (abort) => freshRun(id, abort, promptId, graph, job, written));
        await written;
      } finally {
        starting.delete(id);
      }
      return { run_id: id, run_status: 'running' };
    },

    async startAtCreate(summary, jobText) {
      if (closed || urlInputs(summary).length > 0 || summary.params?.some((p) => p.input_file !== undefined)) return null;
      const text = typeof jobText === 'string' ? jobText : Buffer.from(jobText.buffer, jobText.byteOffset, jobText.byteLength).toString('utf8');
      if (text.length > START_AT_CREATE_MAX_BYTES) return null;
      if (!(await healthyNow()) || closed) return null;
      const job = JSON.parse(text) as Job;
      const promptId = mintPromptId();
      let graph: Workflow | null = null;
      return {
        start(id) {
          graph = prepareWorkflow(job.workflow, job.params ?? [], id);
          return { claim: (m) => claimComfyUI(m, promptId, new Date().toISOString()), workflow: `${JSON.stringify(graph)}\n` };
        },
        launch(id) {
          void event(id, 'run.started');
          void event(id, 'phase.started', { phase: 'prepare' });
          void event(id, 'phase.completed', { phase: 'prepare' });
          launchWork(id, (abort) => freshRun(id, abort, promptId, graph as Workflow, job));
        },
      };
    },

    async waitFor(id, ms, signal) {
      const work = inflight.get(id)?.promise;
      if (!work || ms <= 0 || signal?.aborted) return;
      let timer: NodeJS.Timeout | undefined;
      let stop = () => {};
      await Promise.race([
        work,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ms);
          stop = resolve;
          signal?.addEventListener('abort', stop, { once: true });
        }),
      ]);
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    },

    cancel(id) {
      return cancelRun(
        {
          runs,
          event,
          abort: (runId) => {
            cancelRequested.add(runId);
            inflight.get(runId)?.abort.abort(CANCEL_REASON);
          },
        },
        id,
      );
    },

    async recover() {
      const reattached: string[] = [];
      const failed: string[] = [];
      const deferred: string[] = [];
      /** Runs whose end was logged but not written to the manifest (a crash between the two). */
      const settled: string[] = [];
      const reattach = (id: string, promptId: string) => {
        reattached.push(id);
        launchWork(id, (abort) => reattachedRun(id, abort, promptId));
      };
      const candidates: Manifest[] = [];
      for (const id of await runs.listActive('running')) {
        const m = await runs.get(id).catch(() => null);
        if (m?.run_status !== 'running' || inflight.has(id)) continue;
        // Its terminal event landed before the crash: the manifest ends as it says; nothing runs again.
        const logged = await runs.readEvents(id).catch(() => []);
        if (await settleLoggedEnd(runs, id, logged)) {
          settled.push(id);
          continue;
        }
        if (m.cancel_requested_at) {
          // A cancel accepted before the restart: stop its prompt (if any) and fail the run.
          const promptId = typeof m.phases.comfyui.prompt_id === 'string' ? m.phases.comfyui.prompt_id : null;
          if (promptId) await dropPrompt(promptId);
          const phase = cutPhase(m);
          void event(id, 'run.cancel_recovered', { prompt_id: promptId });
          failed.push(id);
          const lipsyncPrompt = typeof m.phases.lipsync.prompt_id === 'string' ? m.phases.lipsync.prompt_id : null;
          if (lipsyncPrompt && m.phases.lipsync.status === 'running') {
            await comfyui.interrupt(lipsyncPrompt).catch(() => {});
            await comfyui.deleteQueued([lipsyncPrompt]).catch(() => {});
          }
          await fail(id, phase, cancelledError(phase));
          continue;
        }
        if (m.phases.comfyui.status === 'completed') {
          reattached.push(id);
          launchWork(id, (abort) => mediaRun(id, abort));
          continue;
        }
        candidates.push(m);
      }
      // All runs are probed at once (a hanging ComfyUI costs one probe timeout, not one per run).
      let probes = await Promise.all(candidates.map(async (m) => ({ m, probe: await probePrompt(comfyui, m, probeTimeoutMs) })));
      // A submit cut short by the kill can still land in ComfyUI a moment later: look once more.
      if (probes.some(({ probe }) => probe.state === 'absent' && probe.promptId)) {
        await new Promise((r) => setTimeout(r, deps.recoverGraceMs ?? 1500));
        probes = await Promise.all(
          probes.map(async (x) => (x.probe.state === 'absent' && x.probe.promptId ? { m: x.m, probe: await probePrompt(comfyui, x.m, probeTimeoutMs) } : x)),
        );
      }
      for (const { m, probe } of probes) {
        if (probe.state === 'found') reattach(m.run_id, probe.promptId);
        else if (probe.state === 'unknown') {
          // Not known yet: the run stays running and is looked at again later, in the background.
          deferred.push(m.run_id);
          launchWork(m.run_id, (abort) => recoverLater(m, probe.promptId, abort));
        } else {
          failed.push(m.run_id);
          await failLost(m, probe.promptId, probe.why);
        }
      }
      // Last (running runs first): a queued run whose cancel logged run.failed before the crash cut its manifest write.
      for (const id of await runs.listActive('queued')) {
        if (inflight.has(id) || starting.has(id)) continue;
        const logged = await runs.readEvents(id).catch(() => []);
        if (await settleLoggedEnd(runs, id, logged).catch(() => null)) settled.push(id);
      }
      if (reattached.length + failed.length + deferred.length + settled.length > 0) log.info('recovered runs', { reattached, failed, deferred, settled });
      return { reattached, failed, ...(deferred.length > 0 ? { deferred } : {}), ...(settled.length > 0 ? { settled } : {}) };
    },

    async settled() {
      while (inflight.size > 0) await Promise.allSettled([...inflight.values()].map((r) => r.promise));
    },

    async close() {
      closed = true;
      terminal.stop(); // a run end still retrying stays `running` for the next start's recovery
      await Promise.all([...waiting].map((id) => unshowWait(runs, id).catch(() => {})));
      for (const { abort } of inflight.values()) abort.abort({ kind: 'stopped' });
      await Promise.allSettled([...inflight.values()].map((r) => r.promise));
    },
  };
}

