/**
 * A run whose end is in its event log but not in its manifest: VIDAX died between appending the
 * terminal event (`run.completed` / `run.failed`, written first so a reader of a terminal
 * manifest finds it) and the manifest write that ends the run. Recovery completes the manifest
 * from the log, with the same status, exit status and error, and appends nothing: the run keeps
 * exactly one terminal event, its webhook and event stream see that one, and nothing runs again.
 */
import { join } from 'node:path';
import type { RunEvent } from '../runs/event-log.ts';
import { type Artifact, type Manifest, PHASES, type PhaseName } from '../runs/manifest.ts';
import type { RunStore } from '../runs/store.ts';
import { hashFile } from '../media/hash.ts';
import { endPhase, failRun } from './phases.ts';
import { cancelledError } from './cancel.ts';

const END_TYPES = new Set(['run.completed', 'run.failed']);

/** The run's terminal event, if its log holds one. */
export const loggedEnd = (events: readonly RunEvent[]): RunEvent | undefined => events.find((e) => END_TYPES.has(e.type));

const isPhase = (p: unknown): p is PhaseName => typeof p === 'string' && (PHASES as readonly string[]).includes(p);
const fieldsOf = ({ ts: _ts, seq: _seq, type: _type, phase: _phase, ...rest }: RunEvent) => rest;

/** Files a phase the log says completed left in the run directory (hashed: the log has no sha256). */
function phaseFiles(phase: PhaseName, events: readonly RunEvent[], done: RunEvent): string[] {
  if (phase === 'comfyui') return events.filter((e) => e.type === 'comfyui.output_downloaded' && typeof e.path === 'string').map((e) => e.path as string);
  if (phase === 'encode') return ['final.mp4'];
  const out = typeof done.output === 'string' ? [done.output] : [];
  return phase === 'stabilize' ? [join('stabilize', 'transforms.trf'), ...out] : out;
}

/**
 * If `events` hold the run's terminal event, ends the manifest as that event says (phases still
 * open are closed from their own logged events) and returns the event; else returns null and
 * changes nothing.
 */
export async function settleLoggedEnd(
  runs: Pick<RunStore, 'update' | 'paths'>,
  id: string,
  events: readonly RunEvent[],
): Promise<RunEvent | null> {
  const end = loggedEnd(events);
  if (!end) return null;
  const workdir = runs.paths(id).workdir;
  // Artifacts of phases that completed in the log but not in the manifest, gathered before the update.
  const found: Artifact[] = [];
  const closes: ((m: Manifest) => void)[] = [];
  if (end.type === 'run.completed') {
    for (const phase of PHASES) {
      const last = events.findLast((e) => e.phase === phase && (e.type === 'phase.completed' || e.type === 'phase.skipped'));
      if (!last) continue;
      if (last.type === 'phase.completed') {
        for (const path of phaseFiles(phase, events, last)) {
          const h = await hashFile(join(workdir, path)).catch(() => null);
          if (h) found.push({ path, ...h, phase });
        }
      }
      closes.push((m) => {
        const state = m.phases[phase];
        if (state.status !== 'queued' && state.status !== 'running') return;
        if (last.type === 'phase.skipped') return endPhase(m, phase, 'skipped', fieldsOf(last));
        const media = last.media as { fps?: unknown } | undefined;
        const extra = phase === 'encode' ? { output: 'final.mp4', ...(media ? { fps: media.fps } : {}) } : {};
        endPhase(m, phase, 'completed', { ...fieldsOf(last), ...extra });
        if (!m.artifacts.some((a) => a.phase === phase)) m.artifacts = [...m.artifacts, ...found.filter((a) => a.phase === phase)];
      });
    }
  }
  await runs.update(id, (m) => {
    if (m.run_status !== 'running' && m.run_status !== 'queued') return;
    if (end.type === 'run.failed' && m.run_status === 'queued') {
      // A cancel of a queued run logs its end inside the write that ends it: that write, again.
      for (const p of PHASES) endPhase(m, p, 'skipped', { reason: 'the run was cancelled before it started' });
      m.cancel_requested_at ??= end.ts;
      m.run_status = 'failed';
      m.exit_status = 'failed';
      m.error = end.code === 'CANCELLED' ? cancelledError(null) : { code: String(end.code ?? 'RUNNER_ERROR'), message: 'the run failed before it started' };
      return;
    }
    if (end.type === 'run.failed') {
      // The failing phase and the message: from the phase.failed logged just before (same code).
      const before = events.filter((e) => e.seq < end.seq && e.type === 'phase.failed' && e.code === end.code).at(-1);
      const open = PHASES.find((p) => m.phases[p].status === 'running') ?? 'prepare';
      const phase = isPhase(before?.phase) ? before.phase : open;
      const message = typeof before?.message === 'string' ? before.message : `the run failed (${String(end.code)}); its manifest was completed from its event log`;
      failRun(m, phase, end.code === 'CANCELLED' ? cancelledError(phase) : { code: String(end.code ?? 'RUNNER_ERROR'), message });
      return;
    }
    for (const close of closes) close(m);
    for (const p of PHASES) {
      if (m.phases[p].status === 'queued' || m.phases[p].status === 'running') endPhase(m, p, 'skipped', { reason: 'not recorded before the run ended' });
    }
    m.run_status = 'completed';
    m.exit_status = end.exit_status === 'partial' ? 'partial' : 'success';
  });
  return end;
}
