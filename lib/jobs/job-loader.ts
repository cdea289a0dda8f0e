// Reading a run's stored job (job.json) for the runner and webhooks without blocking the event
// loop: the file is read as bytes (libuv), and a large one is parsed on the parser thread, which
// sends back only the job's summary and, for a start, workflow.json's bytes (lib/jobs/stored-job.ts).
import { openRegular } from '../files/safe-open.ts';
import type { RunStore } from '../runs/store.ts';
import type { JobParser, JobSummary } from './job-parser.ts';
import { type PreparedJob, prepareStored, summaryOf } from './stored-job.ts';

export interface JobLoader {
  /** The run's job summary and the graph to send (null while inputs must come first; see `prepareStored`). */
  prepare(id: string, uploaded: Readonly<Record<string, string>> | null): Promise<PreparedJob>;
  /** The run's job without its workflow. */
  summary(id: string): Promise<JobSummary>;
}

/** From job.json's bytes, through the parser (on its thread when large). */
export function createJobLoader(runs: Pick<RunStore, 'paths' | 'readJob'>, parser: Pick<JobParser, 'prepare' | 'summary'>): JobLoader {
  const read = async (id: string): Promise<Buffer> => {
    try {
      const fh = await openRegular(runs.paths(id).job, 'r');
      try {
        return await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      await runs.readJob(id); // the store's own 404s (run_not_found, job_not_found)
      throw err;
    }
  };
  return {
    prepare: async (id, uploaded) => parser.prepare(await read(id), id, uploaded),
    summary: async (id) => parser.summary(await read(id)),
  };
}

/** Through the store's `readJob`, in this thread (tests with an in-memory store). */
export function inlineJobLoader(runs: Pick<RunStore, 'readJob'>): JobLoader {
  const bytes = async (id: string) => new TextEncoder().encode(JSON.stringify(await runs.readJob(id)));
  return {
    prepare: async (id, uploaded) => prepareStored(await bytes(id), id, uploaded),
    summary: async (id) => summaryOf(await bytes(id)),
  };
}
