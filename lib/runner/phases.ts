/** Manifest phase bookkeeping shared by the runner's steps. */
import { type Manifest, PHASES, type PhaseName, type RunError } from '../runs/manifest.ts';

const now = () => new Date().toISOString();

export function beginPhase(m: Manifest, name: PhaseName, extra: Record<string, unknown> = {}): void {
  Object.assign(m.phases[name], { status: 'running', started_at: now(), finished_at: null, error: null }, extra);
}

export function endPhase(
  m: Manifest,
  name: PhaseName,
  status: 'completed' | 'skipped' | 'failed',
  extra: Record<string, unknown> = {},
): void {
  const phase = m.phases[name];
  Object.assign(phase, { status, finished_at: now() }, extra);
  if (phase.started_at === null && status !== 'skipped') phase.started_at = phase.finished_at;
}

/** Fails the run: the failing phase, every later phase skipped, the run's error set. */
export function failRun(m: Manifest, name: PhaseName, error: RunError): void {
  endPhase(m, name, 'failed', { error });
  for (const later of PHASES.slice(PHASES.indexOf(name) + 1)) {
    if (m.phases[later].status === 'queued' || m.phases[later].status === 'running') {
      endPhase(m, later, 'skipped', { reason: `skipped: phase ${name} failed` });
    }
  }
  m.run_status = 'failed';
  m.exit_status = 'failed';
  m.error = error;
}
