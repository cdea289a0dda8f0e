// The job parser thread (lib/jobs/job-parser.ts): JSON text in, a validated job or an error out;
// also a stored job.json in, its summary and the graph to send out (lib/jobs/stored-job.ts).
import { parentPort } from 'node:worker_threads';
import { VidaxError } from '../errors.ts';
import { parseJobBytes, toParsed, type WorkerReply, type WorkerRequest } from './job-parser.ts';
import { prepareStored, summaryOf } from './stored-job.ts';
import { dropGraphs } from '../comfyui/reply-graphs.ts';

function handle(req: WorkerRequest): WorkerReply {
  switch (req.op) {
    case 'prepare':
      return { id: req.id, ...prepareStored(req.bytes, req.runId, req.uploaded) };
    case 'summary':
      return { id: req.id, job: summaryOf(req.bytes) };
    case 'comfyui-reply':
      return { id: req.id, value: dropGraphs(JSON.parse(Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength).toString('utf8')), req.kind) };
    default:
      return { id: req.id, ...toParsed(parseJobBytes(req.bytes)) };
  }
}

parentPort?.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = handle(req);
  } catch (err) {
    const e = err instanceof VidaxError ? err : null;
    reply = {
      id: req.id,
      error: e
        ? { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) }
        : { code: 'internal_error', message: (err as Error)?.message ?? String(err) },
    };
  }
  const moved = 'storedText' in reply ? reply.storedText : 'graph' in reply ? reply.graph : null;
  parentPort?.postMessage(reply, moved ? [moved.buffer as ArrayBuffer] : []);
});
