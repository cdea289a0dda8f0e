// The job parser thread (lib/jobs/job-parser.ts): JSON text in, a validated job or an error out.
import { parentPort } from 'node:worker_threads';
import { VidaxError } from '../errors.ts';
import { parseJobBytes, toParsed, type WorkerReply } from './job-parser.ts';

parentPort?.on('message', ({ id, bytes }: { id: number; bytes: Uint8Array }) => {
  let reply: WorkerReply;
  try {
    reply = { id, ...toParsed(parseJobBytes(bytes)) };
  } catch (err) {
    const e = err instanceof VidaxError ? err : null;
    reply = {
      id,
      error: e
        ? { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) }
        : { code: 'internal_error', message: (err as Error)?.message ?? String(err) },
    };
  }
  parentPort?.postMessage(reply, 'storedText' in reply ? [reply.storedText.buffer as ArrayBuffer] : []);
});
