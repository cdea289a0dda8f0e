import { Busboy, type BusboyFileStream } from '@fastify/busboy';
import { Readable } from 'node:stream';
import { duplicateInput, invalidInputName, invalidMultipart, limitExceeded, VidaxError } from '../errors.ts';
import type { InputsConfig } from '../config.ts';
import { cleanContentType, cleanFilename, isInputName } from './names.ts';
import type { Staging } from './staging.ts';
import type { StagedInput } from './types.ts';
import { writeInput } from './write-input.ts';

export interface MultipartJob {
  /** The `job` part's text (JSON, parsed by the caller). */
  jobText: string;
  files: StagedInput[];
}

/**
 * The request body as a Node stream: the Node adapter's body (@whatwg-node's ponyfill) wraps the
 * request's own Readable, used as is; a standard web stream is converted.
 */
export function nodeBody(body: ReadableStream<Uint8Array>): Readable {
  const inner = (body as { readable?: unknown }).readable;
  if (inner instanceof Readable) return inner;
  if (body instanceof ReadableStream) return Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
  return Readable.from(body as unknown as AsyncIterable<Uint8Array>);
}

/**
 * Reads a `multipart/form-data` POST /jobs body with @fastify/busboy: one field `job` (the JSON
 * job) and file parts named by input, each streamed into `staging` with its sha256. Every limit
 * of `inputs.*` holds while reading; the first problem stops the read and rejects (the caller
 * discards the staging folder). `onJob` sees the job text as soon as it arrives, so a bad job
 * fails before the files behind it are read.
 */
export function receiveMultipart(
  request: Request,
  staging: Staging,
  limits: InputsConfig & { maxJobBytes: number },
  onJob: (text: string) => void,
): Promise<MultipartJob> {
  const contentType = request.headers.get('content-type') ?? '';
  let parser: ReturnType<typeof Busboy>;
  try {
    parser = Busboy({
      headers: { 'content-type': contentType },
      isPartAFile: (name) => name !== 'job',
      limits: {
        fieldNameSize: 256,
        fieldSize: limits.maxJobBytes,
        fields: 2,
        files: limits.maxInputs + 1,
        parts: limits.maxInputs + 2,
        headerSize: limits.maxPartHeaderBytes,
        headerPairs: 32,
      },
    });
  } catch {
    throw invalidMultipart('multipart/form-data without a usable boundary');
  }
  if (!request.body) throw invalidMultipart('empty multipart body');
  // busboy silently truncates a part's headers past `headerSize`. Its header parser knows (`maxed`)
  // until it finishes the block: its `_finish` is wrapped to note it, on this parser only
  // (private to @fastify/busboy 3.2.6, pinned; test/inputs/intake.test.ts fails if it moves).
  // A truncated header block is a 413, not a guess at what the part was.
  let truncated = false;
  type HeaderParser = { maxed: boolean; _finish: () => unknown };
  const hp = (parser as unknown as { _parser?: { parser?: { _hparser?: HeaderParser } } })._parser?.parser?._hparser;
  if (hp && typeof hp._finish === 'function') {
    const finish = hp._finish;
    hp._finish = function (this: HeaderParser) {
      if (this.maxed) truncated = true;
      return finish.call(this);
    };
  }
  const headerTruncated = () => truncated;
  const headerLimit = () => limitExceeded('inputs.maxPartHeaderBytes', limits.maxPartHeaderBytes, 'a part header block');
  const body = nodeBody(request.body);

  return new Promise<MultipartJob>((resolve, reject) => {
    let failed: unknown = null;
    let jobText: string | null = null;
    const names = new Set<string>();
    const files: StagedInput[] = [];
    const writes: Promise<void>[] = [];
    const open = new Set<BusboyFileStream>();
    let received = 0;

    const fail = (err: unknown) => {
      if (failed) return;
      failed = err;
      body.unpipe(parser);
      body.resume(); // the rest is discarded, so the error answer can still be sent on this connection
      parser.removeAllListeners('file');
      parser.on('error', () => {});
      for (const stream of open) stream.destroy(); // their writes end, the files get discarded
      Promise.allSettled(writes).then(() => reject(err));
    };

    body.on('data', (chunk: Buffer) => {
      received += chunk.byteLength;
      if (received > limits.maxRequestBytes) fail(limitExceeded('inputs.maxRequestBytes', limits.maxRequestBytes, 'the request body'));
    });
    body.on('error', () => fail(invalidMultipart('the request body was cut off')));

    parser.on('field', (name, value, _nameTruncated, valueTruncated) => {
      if (headerTruncated()) return fail(headerLimit());
      if (name !== 'job') return fail(invalidMultipart('only the `job` part may be a plain field; inputs are file parts'));
      if (jobText !== null) return fail(invalidMultipart('two `job` parts'));
      if (valueTruncated) return fail(limitExceeded('maxBodyBytes', limits.maxJobBytes, 'the job part'));
      jobText = value;
      try {
        onJob(value);
      } catch (err) {
        fail(err);
      }
    });

    parser.on('file', (name: string, stream: BusboyFileStream, filename: string | undefined, _enc: string, mime: string) => {
      // busboy re-emits a part's late errors (e.g. "terminated early") on the file stream even after
      // it was consumed or destroyed: a listener keeps them from being uncaught; the parser's own
      // 'error' is what fails the request.
      stream.on('error', () => {});
      if (failed) return stream.resume();
      if (headerTruncated()) {
        stream.resume();
        return fail(headerLimit());
      }
      if (!isInputName(name)) {
        stream.resume();
        return fail(invalidInputName());
      }
      if (names.has(name)) {
        stream.resume();
        return fail(duplicateInput(name));
      }
      if (names.size >= limits.maxInputs) {
        stream.resume();
        return fail(limitExceeded('inputs.maxInputs', limits.maxInputs, 'the number of inputs'));
      }
      names.add(name);
      open.add(stream);
      const clean = cleanFilename(filename, name);
      writes.push(
        writeInput(stream, staging.path(name), limits.maxFileBytes, `input "${name}"`).then(
          ({ bytes, sha256 }) => {
            files.push({ name, filename: clean, bytes, sha256, content_type: cleanContentType(mime, clean), source: 'upload' });
          },
          (err) => {
            stream.resume();
            fail(err);
          },
        ).finally(() => open.delete(stream)),
      );
    });

    parser.on('partsLimit', () => fail(limitExceeded('inputs.maxInputs', limits.maxInputs, 'the number of parts')));
    parser.on('filesLimit', () => fail(limitExceeded('inputs.maxInputs', limits.maxInputs, 'the number of inputs')));
    parser.on('fieldsLimit', () => fail(invalidMultipart('only one `job` field is allowed')));
    parser.on('error', (err: Error) => fail(err instanceof VidaxError ? err : invalidMultipart(`malformed multipart body: ${tidy(err.message)}`)));
    parser.on('finish', () => {
      Promise.all(writes).then(() => {
        if (failed) return;
        if (headerTruncated()) return fail(headerLimit()); // a part busboy dropped for want of its name
        if (jobText === null) return fail(invalidMultipart('no `job` part: send the JSON job in a part named `job`'));
        files.sort((a, b) => (a.name < b.name ? -1 : 1));
        resolve({ jobText, files });
      }, fail);
    });
    body.pipe(parser);
  });
}

/** busboy's messages, without anything that could echo client bytes at length. */
function tidy(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '').slice(0, 120);
}
