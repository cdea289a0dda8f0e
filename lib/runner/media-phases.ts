import { join } from 'node:path';
/** The job without its workflow: what the steps after the comfyui phase read. */
import type { JobSummary as Job } from '../jobs/job-parser.ts';
import { type EncodeOptions, encodeFinal } from '../media/encode.ts';
import type { MediaEnv } from '../media/env.ts';
import { type FfmpegProgress, MediaAborted, MediaFailure } from '../media/ffmpeg.ts';
import { hashFile } from '../media/hash.ts';
import { killLeftovers } from '../media/leftovers.ts';
import type { Media } from '../media/service.ts';
import { type Current, pickCurrent } from '../media/source.ts';
import { type StabilizeOptions, stabilize } from '../media/stabilize.ts';
import type { Artifact, Manifest, PhaseName } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';
import { cancelledError, isCancelled } from './cancel.ts';
import type { TerminalWriter } from './terminal.ts';
import type { RunError } from '../errors.ts';
import { beginPhase, endPhase, failRun } from './phases.ts';
import { throttle } from './progress.ts';

type Mutation = (m: Manifest) => void;
type MediaPhase = 'stabilize' | 'lipsync' | 'encode';

/** A phase's result: its artifacts, the fields for the manifest, and the new current video. */
export interface PhaseOutput {
  artifacts: Omit<Artifact, 'phase'>[];
  fields: Record<string, unknown>;
  current: Current | null;
}

/** Runs the lipsync phase (ComfyUI machinery; see lipsync-phase.ts). */
export type LipsyncRun = (args: {
  id: string;
  job: Job;
  current: Current;
  manifest: Manifest;
  signal: AbortSignal;
  patch(fields: Record<string, unknown>): void;
  setPromptId(promptId: string): Promise<void>;
}) => Promise<PhaseOutput>;

export interface MediaSteps {
  runs: Pick<RunStore, 'update' | 'paths' | 'get'>;
  event(id: string, type: string, fields?: Record<string, unknown>): Promise<unknown>;
  media: Media;
  lipsync: LipsyncRun;
  progressEveryMs: number;
  /** Ends the run: its terminal event once, then the manifest write, retried until they land. */
  end: TerminalWriter['end'];
}

const MEDIA_PHASES: MediaPhase[] = ['stabilize', 'lipsync', 'encode'];

/**
 * The signal a media phase honours: the run's, except a ComfyUI crash (which only the
 * comfyui and lipsync phases care about) does not kill an ffmpeg run.
 */
function mediaSignal(run: AbortSignal, phase: MediaPhase): AbortSignal {
  if (phase === 'lipsync') return run;
  const ctl = new AbortController();
  const follow = () => {
    if ((run.reason as { kind?: string } | undefined)?.kind !== 'crashed') ctl.abort(run.reason);
  };
  if (run.aborted) follow();
  else run.addEventListener('abort', follow, { once: true });
  return ctl.signal;
}

const requested = (job: Job, name: MediaPhase) =>
  name === 'encode' ? job.phases?.encode?.enabled !== false : job.phases?.[name]?.enabled === true;

/**
 * After the comfyui phase (fresh, or at recovery): stabilize, lipsync, encode in order, each
 * working on the current video and replacing it on success, then the end of the run. A phase
 * already completed keeps its output; one that was running when VIDAX died runs again from its
 * input. `first` are manifest changes still to write (the comfyui phase's outcome).
 */
export async function runMediaPhases(steps: MediaSteps, id: string, job: Job, signal: AbortSignal, first: Mutation[] = []): Promise<void> {
  const { runs, event } = steps;
  const workdir = runs.paths(id).workdir;
  let snapshot = await runs.get(id);
  const pending: Mutation[] = [...first];
  const flush = async () => {
    const todo = pending.splice(0);
    snapshot = await runs.update(id, (m) => {
      for (const f of todo) f(m);
    });
  };
  // The comfyui artifacts: from the pending outcome when fresh, else from the manifest.
  const probe = structuredClone(snapshot) as Manifest;
  for (const f of pending) f(probe);
  const comfyArtifacts = probe.artifacts.filter((a) => a.phase === 'comfyui');
  const fps = job.phases?.encode?.fps ?? 24;
  // Only a phase still to run needs the current video (picking it reads the images' headers).
  const toRun = MEDIA_PHASES.some((p) => requested(job, p) && ['queued', 'running'].includes(probe.phases[p].status));
  let current: Current | null = toRun ? await pickCurrent(workdir, comfyArtifacts, fps) : null;
  const tools = await steps.media.tools();
  // `partial`: a requested phase was skipped for a missing optional capability (libvidstab).
  let partial = MEDIA_PHASES.some((p) => probe.phases[p].status === 'skipped' && probe.phases[p].requested === true);

  for (const name of MEDIA_PHASES) {
    const state = probe.phases[name];
    if (state.status === 'completed') {
      if (typeof state.output === 'string') current = { kind: 'video', path: state.output };
      continue;
    }
    if (state.status === 'skipped' || state.status === 'failed') continue;
    if (!requested(job, name)) {
      const reason = name === 'encode' ? 'disabled by the job' : 'not requested by the job';
      pending.push((m) => endPhase(m, name, 'skipped', { requested: false, reason }));
      void event(id, 'phase.skipped', { phase: name, requested: false });
      continue;
    }
    if (name === 'stabilize' && tools.ffmpeg && !tools.vidstab) {
      const reason = 'this ffmpeg has no libvidstab (vidstabdetect/vidstabtransform): install an ffmpeg built with --enable-libvidstab (Debian\'s `ffmpeg` package has it)';
      pending.push((m) => endPhase(m, name, 'skipped', { requested: true, reason }));
      partial = true;
      void event(id, 'phase.skipped', { phase: name, requested: true, reason });
      continue;
    }
    if (isCancelled(signal)) {
      // Cancelled between phases: this one is the phase cut.
      await flush();
      return failMedia(steps, id, name, cancelledError(name));
    }
    // Cut off by a crash (recovery): any ffmpeg the dead VIDAX left in the run dir goes first,
    // then the phase runs again from its input.
    const rerun = state.status === 'running';
    const leftovers = rerun ? await killLeftovers(workdir, [tools.ffmpeg?.path ?? 'ffmpeg', tools.ffprobe?.path ?? 'ffprobe']) : [];
    pending.push((m) => beginPhase(m, name, { progress: null }));
    await flush();
    void event(id, 'phase.started', { phase: name, ...(rerun ? { rerun: true, leftovers_killed: leftovers.length } : {}) });
    const progress = createProgress(steps, id, name);
    const phaseSignal = mediaSignal(signal, name);
    let out: PhaseOutput;
    try {
      const env: MediaEnv = { workdir, tools, config: steps.media.config, signal: phaseSignal, onProgress: progress.push };
      out = await runPhase(steps, name, env, { id, job, current, manifest: snapshot, signal: phaseSignal, patch: progress.patch, comfyArtifacts });
    } catch (err) {
      await progress.drain();
      if (err instanceof MediaAborted || phaseSignal.aborted) {
        const reason = (phaseSignal.reason ?? (err as MediaAborted).reason) as { kind?: string; message?: string } | undefined;
        if (reason?.kind === 'stopped') return; // VIDAX is stopping: recovery runs this phase again
        if (reason?.kind === 'crashed') return failMedia(steps, id, name, { code: 'COMFYUI_CRASHED', message: reason.message ?? 'ComfyUI crashed' });
        if (reason?.kind === 'cancelled') return failMedia(steps, id, name, cancelledError(name));
        return failMedia(steps, id, name, { code: 'RUNNER_ERROR', message: reason?.message ?? `the ${name} phase was aborted` });
      }
      if (err instanceof MediaFailure) return failMedia(steps, id, name, { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) });
      throw err; // a fault of VIDAX itself: RUNNER_ERROR
    }
    await progress.drain();
    current = out.current;
    pending.push((m) => {
      endPhase(m, name, 'completed', out.fields);
      m.artifacts = [...m.artifacts.filter((a) => a.phase !== name), ...out.artifacts.map((a) => ({ ...a, phase: name }))];
    });
    void event(id, 'phase.completed', { phase: name, ...summary(out.fields) });
  }
  const todo = pending.splice(0);
  return completeRun(steps, id, partial ? 'partial' : 'success', (m) => {
    for (const f of todo) f(m);
  });
}

/**
 * The one way a run completes: its last event first (a reader of `completed` finds it), then one
 * manifest write with what the last phases recorded and the end of the run.
 */
export async function completeRun(
  steps: Pick<MediaSteps, 'end'>,
  id: string,
  exit: 'success' | 'partial',
  record: (m: Manifest) => void,
): Promise<void> {
  await steps.end(id, { type: 'run.completed', fields: { exit_status: exit } }, (m) => {
    record(m);
    m.run_status = 'completed';
    m.exit_status = exit;
  });
}

const summary = (fields: Record<string, unknown>) => ('media' in fields ? { media: fields.media } : { output: fields.output ?? null });

async function failMedia(steps: MediaSteps, id: string, phase: PhaseName, failure: RunError): Promise<void> {
  void steps.event(id, 'phase.failed', { phase, code: failure.code, message: failure.message });
  await steps.end(id, { type: 'run.failed', fields: { code: failure.code } }, (m) => failRun(m, phase, failure));
}

/** Progress of ffmpeg (or of the lipsync prompt): throttled events and the phase's `progress`. */
function createProgress(steps: MediaSteps, id: string, phase: MediaPhase) {
  let writing: Promise<unknown> = Promise.resolve();
  let queued: Record<string, unknown> | null = null;
  const patch = (fields: Record<string, unknown>) => {
    const first = queued === null;
    queued = { ...queued, ...fields };
    if (!first) return;
    writing = writing.then(() => {
      const p = queued ?? {};
      queued = null;
      return steps.runs.update(id, (m) => {
        if (m.phases[phase].status === 'running') Object.assign(m.phases[phase], p);
      }).catch(() => {});
    });
  };
  const t = throttle(steps.progressEveryMs, (p: FfmpegProgress) => {
    void steps.event(id, 'media.progress', { phase, ...p });
    patch({ progress: p });
  });
  return { push: (p: FfmpegProgress) => t.push(p), patch, drain: () => { t.cancel(); return writing; } };
}

interface PhaseArgs {
  id: string;
  job: Job;
  current: Current | null;
  manifest: Manifest;
  signal: AbortSignal;
  patch(fields: Record<string, unknown>): void;
  comfyArtifacts: Artifact[];
}

async function runPhase(steps: MediaSteps, name: MediaPhase, env: MediaEnv, a: PhaseArgs): Promise<PhaseOutput> {
  const { job, current } = a;
  if (name === 'stabilize') {
    if (!current) throw new MediaFailure('STABILIZE_FAILED', 'there is no video or image output to stabilize');
    const o: StabilizeOptions = job.phases?.stabilize ?? {};
    const done = await stabilize(env, current, o);
    const trf = join('stabilize', 'transforms.trf');
    const t = await hashFile(join(env.workdir, trf));
    return {
      artifacts: [{ path: trf, ...t }, { path: done.path, bytes: done.bytes, sha256: done.sha256 }],
      fields: { output: done.path, frames: done.frames, options: { shakiness: o.shakiness ?? 5, smoothing: o.smoothing ?? 10, zoom: o.zoom ?? 0 } },
      current: { kind: 'video', path: done.path },
    };
  }
  if (name === 'lipsync') {
    if (!current) throw new MediaFailure('LIPSYNC_FAILED', 'there is no video or image output to lip-sync');
    return steps.lipsync({
      id: a.id,
      job,
      current,
      manifest: a.manifest,
      signal: a.signal,
      patch: a.patch,
      setPromptId: async (promptId) => {
        await steps.runs.update(a.id, (m) => {
          m.phases.lipsync.prompt_id = promptId;
        });
      },
    });
  }
  const o: EncodeOptions = job.phases?.encode ?? {};
  const seen = a.comfyArtifacts.map((x) => x.path.replace(/^outputs\//, ''));
  const { media, source } = await encodeFinal(env, current, o, seen);
  return {
    artifacts: [{ path: 'final.mp4', bytes: media.bytes, sha256: media.sha256 }],
    fields: { output: 'final.mp4', source, media, fps: media.fps },
    current: { kind: 'video', path: 'final.mp4' },
  };
}
