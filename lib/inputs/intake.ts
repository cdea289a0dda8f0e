import type { Config } from '../config.ts';
import { duplicateInput, limitExceeded } from '../errors.ts';
import { meterLimits, validationFailed } from '../http/function.ts';
import { createJsonMeter, type JsonMeterLimits } from '../http/json-meter.ts';
import { type JobParser, type JobSummary, parseJobBytes, parseJobValue, storedJob, toParsed } from '../jobs/job-parser.ts';
import { parseJsonText, readBody } from '../http/body.ts';
import { checkInputRefs, checkPhaseInputRefs } from '../jobs/checks.ts';
import type { Job } from '../jobs/schema.ts';
import type { CreateStart } from '../runner/runner.ts';
import type { CreatedRun, RunStore } from '../runs/store.ts';
import { receiveMultipart } from './multipart.ts';
import { cleanContentType, cleanFilename } from './names.ts';
import { createStaging, type Staging } from './staging.ts';
import { OutboundError, type UrlGuard } from '../net/url-guard.ts';
import type { StagedInput } from './types.ts';
import { writeInput } from './write-input.ts';

export interface IntakeDeps {
  config: Pick<Config, 'maxBodyBytes' | 'inputs' | 'runsDir'> & Partial<JsonMeterLimits>;
  /** Parses large job bodies off the event loop; without one, they are parsed inline. */
  jobParser?: Pick<JobParser, 'parse'>;
  runs: Pick<RunStore, 'create'>;
  /** The outbound guard's static check (scheme, credentials, allow-list, literal addresses). */
  inputGuard?: Pick<UrlGuard, 'check'>;
  /** `"start": true`: asked once the job is valid, before anything is written (see `Runner.startAtCreate`). */
  startAtCreate?: (job: JobSummary, jobText: Uint8Array) => Promise<CreateStart | null>;
}

export const isMultipart = (request: Request) =>
  /^multipart\/form-data\s*(;|$)/i.test(request.headers.get('content-type') ?? '');


/**
 * POST /jobs in both forms: a JSON job (inline `base64` inputs decoded to files), or
 * multipart/form-data with a `job` part and one file part per input. Everything is checked and
 * every file is on disk (in a staging folder) before the run is created; any failure discards
 * the staging folder, so a refused or cut-off request leaves no run and no file.
 */
export async function createJob(request: Request, deps: IntakeDeps): Promise<CreatedRun & { start: boolean; started: CreateStart | null }> {
  const { config } = deps;
  let staging: Staging | null = null;
  try {
    let job: JobSummary;
    let storedText: Uint8Array;
    let uploaded: StagedInput[] = [];
    if (isMultipart(request)) {
      const declared = Number(request.headers.get('content-length') ?? 0);
      if (declared > config.inputs.maxRequestBytes) {
        throw limitExceeded('inputs.maxRequestBytes', config.inputs.maxRequestBytes, 'the request body');
      }
      staging = await createStaging(config.runsDir);
      let early: Job | null = null;
      const form = await receiveMultipart(request, staging, { ...config.inputs, maxJobBytes: config.maxBodyBytes }, (text) => {
        const limits = meterLimits(config);
        if (limits) createJsonMeter(limits)(Buffer.from(text));
        early = parseJobValue(parseJsonText(text, 'the job part: '));
      });
      ({ job, storedText } = toParsed(early as unknown as Job));
      uploaded = form.files;
    } else {
      const bytes = await readBody(request, config.maxBodyBytes, meterLimits(config));
      ({ job, storedText } = deps.jobParser ? await deps.jobParser.parse(bytes) : toParsed(parseJobBytes(bytes)));
    }
    const declaredInputs = Object.entries(job.inputs ?? {});
    for (const [name] of declaredInputs) if (uploaded.some((f) => f.name === name)) throw duplicateInput(name);
    const count = uploaded.length + declaredInputs.length;
    if (count > config.inputs.maxInputs) throw limitExceeded('inputs.maxInputs', config.inputs.maxInputs, 'the number of inputs');
    const inputNames = new Set([...uploaded.map((f) => f.name), ...declaredInputs.map(([n]) => n)]);
    const refIssues = [...checkInputRefs(job.params ?? [], inputNames), ...checkPhaseInputRefs(job.phases, inputNames)];
    if (refIssues.length > 0) throw validationFailed(refIssues.map(({ path, message }) => ({ path: path.join('.'), message })));

    const urlIssues = declaredInputs.flatMap(([name, spec]) => {
      if (spec.url === undefined) return [];
      try {
        if (!deps.inputGuard) throw new OutboundError('refused', 'URL inputs are not enabled on this server');
        deps.inputGuard.check(spec.url);
        return [];
      } catch (err) {
        if (!(err instanceof OutboundError)) throw err;
        return [{ path: `inputs.${name}.url`, message: `refused: ${err.message}` }];
      }
    });
    if (urlIssues.length > 0) throw validationFailed(urlIssues);

    const inline = declaredInputs.filter(([, spec]) => spec.base64 !== undefined);
    if (inline.length > 0) staging ??= await createStaging(config.runsDir);
    const entries = [...uploaded];
    for (const [name, spec] of inline) {
      const bytes = Buffer.from(spec.base64 as string, 'base64');
      const filename = cleanFilename(spec.filename, name);
      const written = await writeInput([bytes], (staging as Staging).path(name), config.inputs.maxFileBytes, `input "${name}"`);
      entries.push({ name, filename, ...written, content_type: cleanContentType(null, filename), source: 'inline' });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    // job.json (storedText) keeps URL inputs (fetched at prepare), not the inline bytes (files now).
    const started = job.start === true && deps.startAtCreate ? await deps.startAtCreate(job, storedText) : null;
    const run = await deps.runs.create(storedJob(job), storedText, staging ? { dir: staging.dir, entries } : undefined, started ? (id) => started.start(id) : undefined);
    staging = null; // the folder is the run's inputs now
    // A store that wrote no claim (it ignores `start`) leaves the run queued: started the usual way.
    return { ...run, start: job.start === true, started: run.manifest.run_status === 'running' ? started : null };
  } finally {
    await staging?.discard();
  }
}
