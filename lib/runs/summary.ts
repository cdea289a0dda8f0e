import { jobUrls } from '../jobs/urls.ts';
import type { Manifest } from './manifest.ts';

/** What GET /jobs/:id answers for a run (also each item of GET /jobs, and cancel/wait answers). */
export function runSummary(m: Manifest, manifestPath: string) {
  return {
    run_id: m.run_id,
    run_status: m.run_status,
    exit_status: m.exit_status,
    phases: m.phases,
    manifest: manifestPath,
    workdir: m.workdir,
    ...jobUrls(m.run_id),
    created_at: m.created_at,
    updated_at: m.updated_at,
    error: m.error,
  };
}

export type RunSummary = ReturnType<typeof runSummary>;
