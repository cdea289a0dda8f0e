import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComfyUIClient } from '../comfyui/client.ts';
import { isComfyUIError } from '../comfyui/errors.ts';
import { type RunError, runError, VidaxError } from '../errors.ts';
import type { ComfyUIEvent, EventStream } from '../comfyui/events.ts';
import type { HistoryEntry } from '../comfyui/types.ts';
import { awaitPrompt, Hint, type PromptOutcome } from './await-prompt.ts';
import { cancelledError, isCancelled } from './cancel.ts';
import { classify, planOutputs } from './outputs.ts';
import { throttle } from './progress.ts';

export interface ComfyUIPhaseIO {
  comfyui: ComfyUIClient;
  events: EventStream;
  /** Appends one event to the run's log. */
  event(type: string, fields?: Record<string, unknown>): void;
  /** Merges fields into the manifest's comfyui phase (coalesced, durable). */
  patchPhase(fields: Record<string, unknown>): void;
  signal: AbortSignal;
  pollMs: number;
  unreachableMs: number;
  progressEveryMs: number;
}

export type ComfyUIPhaseResult =
  | { ok: true; artifacts: { path: string; bytes: number; sha256: string; phase: 'comfyui'; original_name?: string }[]; files: number }
  | { ok: false; stopped: false; error: RunError }
  /** VIDAX is stopping: the run stays `running` for the next start to recover. */
  | { ok: false; stopped: true };

/**
 * Turns ComfyUI's WebSocket messages for one prompt into run events and manifest progress, in
 * causal order: with `held` (a fresh submit) what arrives before the submit is answered waits
 * until `release()` (after `comfyui.queued`), and a pending throttled progress is written before
 * any later event of the prompt.
 */
function listen(io: ComfyUIPhaseIO, promptId: string, hint: Hint, held: boolean): { release(): void; stop(): void } {
  let queue: (() => void)[] | null = held ? [] : null;
  const emit = (f: () => void) => (queue ? queue.push(f) : f());
  const progress = throttle(io.progressEveryMs, (p: Record<string, unknown>) =>
    emit(() => {
      io.event('comfyui.progress', p);
      io.patchPhase({ progress: p });
    }),
  );
  const event = (type: string, fields?: Record<string, unknown>) => {
    progress.flush(); // the last progress before what follows it
    emit(() => io.event(type, fields));
  };
  const unsubscribe = io.events.subscribe(promptId, (msg: ComfyUIEvent) => {
    const d = msg.data;
    switch (msg.type) {
      case 'execution_start':
        event('comfyui.started');
        emit(() => io.patchPhase({ queue_position: 0 }));
        break;
      case 'execution_cached':
        event('comfyui.cached', { nodes: d.nodes });
        break;
      case 'executing':
        if (d.node === null) hint.wake(true);
        else event('comfyui.node_started', { node: d.node });
        break;
      case 'progress':
        progress.push({ node: d.node, value: d.value, max: d.max });
        break;
      case 'executed':
        event('comfyui.node_output', { node: d.node, output: d.output });
        break;
      case 'execution_success':
      case 'execution_error':
      case 'execution_interrupted':
        progress.flush();
        hint.wake(true);
        break;
    }
  });
  const offConn = io.events.onConnectionChange((state) => {
    if (state === 'lost') event('comfyui.events_lost', { fallback: 'polling /history' });
    hint.wake();
  });
  const release = () => {
    const waiting = queue ?? [];
    queue = null;
    for (const f of waiting) f();
  };
  return {
    release,
    stop() {
      progress.flush();
      release();
      unsubscribe();
      offConn();
    },
  };
}

function outcomeError(outcome: Exclude<PromptOutcome, { kind: 'finished' | 'stopped' }>, timeoutS: number): RunError {
  switch (outcome.kind) {
    case 'timeout':
      return runError('COMFYUI_TIMEOUT', `the prompt did not finish within timeout_s=${timeoutS}`);
    case 'lost':
      return runError('COMFYUI_PROMPT_LOST', 'the prompt is neither in ComfyUI\'s queue nor in its history (ComfyUI restarted, or it was deleted)');
    case 'crashed':
      return runError('COMFYUI_CRASHED', outcome.message);
    case 'protocol':
      return runError('COMFYUI_PROTOCOL_ERROR', `ComfyUI answered, but not as its API says, ${outcome.message}`);
    case 'cancelled':
      return cancelledError('comfyui');
  }
}

/**
 * Listens to the prompt's events, then `submit`s it (fresh runs; events can beat the POST
 * response, so listening comes first), waits for it and downloads its outputs. Re-attached runs
 * pass no `submit`. A failing `submit` rejects; the runner records its code.
 */
export async function finishPrompt(
  io: ComfyUIPhaseIO,
  opts: { promptId: string; deadline: number; timeoutS: number; outputsDir: string; workdir: string },
  submit?: () => Promise<void>,
): Promise<ComfyUIPhaseResult> {
  const hint = new Hint();
  const listening = listen(io, opts.promptId, hint, submit !== undefined);
  let outcome: PromptOutcome;
  try {
    if (submit) await submit(); // logs comfyui.queued
    listening.release();
    outcome = await awaitPrompt(
      {
        promptId: opts.promptId,
        source: io.comfyui,
        deadline: opts.deadline,
        signal: io.signal,
        pollMs: io.pollMs,
        unreachableMs: io.unreachableMs,
        onQueuePosition: (position) => io.patchPhase({ queue_position: position }),
        socketFirst: submit !== undefined && io.events.clientId !== null,
      },
      hint,
    );
  } finally {
    listening.stop();
  }
  if (outcome.kind === 'timeout' || outcome.kind === 'cancelled') {
    // Stop that prompt only: interrupt it if it runs, drop it if it still waits.
    await io.comfyui.interrupt(opts.promptId).catch(() => {});
    await io.comfyui.deleteQueued([opts.promptId]).catch(() => {});
    io.event('comfyui.interrupted_by_vidax', { reason: outcome.kind === 'timeout' ? 'timeout' : 'cancelled' });
  }
  if (outcome.kind === 'stopped') return { ok: false, stopped: true };
  if (outcome.kind === 'crashed' || outcome.kind === 'protocol') {
    // VIDAX gives up on this prompt: if a ComfyUI still holds it, nothing may run without an owner.
    await io.comfyui.interrupt(opts.promptId, { timeoutMs: 2000 }).catch(() => {});
    await io.comfyui.deleteQueued([opts.promptId], { timeoutMs: 2000 }).catch(() => {});
  }
  if (outcome.kind !== 'finished') return { ok: false, stopped: false, error: outcomeError(outcome, opts.timeoutS) };
  return downloadOutputs(io, outcome.entry, opts.outputsDir, opts.workdir);
}

async function downloadOutputs(io: ComfyUIPhaseIO, entry: HistoryEntry, outputsDir: string, workdir: string): Promise<ComfyUIPhaseResult> {
  const error = classify(entry);
  if (error) return { ok: false, stopped: false, error };
  const { files, refused } = planOutputs(entry);
  if (refused.length > 0) io.event('comfyui.output_refused', { filenames: refused });
  const artifacts: { path: string; bytes: number; sha256: string; phase: 'comfyui'; original_name?: string }[] = [];
  if (files.length > 0) await mkdir(outputsDir, { recursive: true });
  for (const out of files) {
    if (isCancelled(io.signal)) return { ok: false, stopped: false, error: cancelledError('comfyui') };
    try {
      const got = await io.comfyui.download(out.file, join(outputsDir, out.name));
      const path = join(outputsDir, out.name).slice(workdir.length + 1);
      // A name shortened to fit the file system keeps ComfyUI's own in the manifest.
      artifacts.push({ path, bytes: got.bytes, sha256: got.sha256, phase: 'comfyui', ...(out.original ? { original_name: out.original } : {}) });
      io.event('comfyui.output_downloaded', { node: out.node, path, bytes: got.bytes });
    } catch (err) {
      const code = isComfyUIError(err) ? err.code : err instanceof VidaxError && err.code === 'STORAGE_ERROR' ? 'STORAGE_ERROR' : 'COMFYUI_DOWNLOAD_FAILED';
      return { ok: false, stopped: false, error: runError(code, `downloading ${out.file.filename} failed: ${(err as Error).message}`) };
    }
  }
  return { ok: true, artifacts, files: files.length };
}
