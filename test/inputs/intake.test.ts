import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FormData, fetch } from 'undici';
import { type RunningServer, startServer } from '../../adapters/node.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { TEST_KEY, testConfig } from '../support/context.ts';
import { fixtureWorkflow, snapshot } from '../support/jobs.ts';
import { multipartBody, type Part, rawPost } from '../support/multipart.ts';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(200, 7)]);
const WAV = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(1000, 3)]);
const video = () => JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/comfyui/workflows/workflow-video.json'), 'utf8'));
const videoJob = (extra: Record<string, unknown> = {}) => ({
  workflow: video(),
  params: [
    { node: '1', input: 'image', input_file: 'face' },
    { node: '4', input: 'audio', input_file: 'voice' },
  ],
  ...extra,
});

describe('inputs with a job', () => {
  let server: RunningServer;
  let url = '';
  let runsDir = '';
  const MAX_FILE = 64 * 1024;

  before(async () => {
    const config = testConfig({ inputs: { maxFileBytes: MAX_FILE, maxInputs: 4, urlAllow: ['.example.com', '127.0.0.1'] } });
    runsDir = config.runsDir;
    server = await startServer({ config, log: createMemoryLogger() });
    url = server.url;
  });
  after(() => server.close());

  const post = (body: FormData | string, headers: Record<string, string> = {}) =>
    fetch(`${url}/jobs`, { method: 'POST', body, headers: { 'x-api-key': TEST_KEY, ...headers } });
  const form = (job: unknown, files: [string, Uint8Array, string, string?][]) => {
    const f = new FormData();
    f.append('job', JSON.stringify(job));
    for (const [name, data, filename, type] of files) f.append(name, new Blob([new Uint8Array(data)], type ? { type } : {}), filename);
    return f;
  };
  const manifestOf = (id: string) => JSON.parse(readFileSync(join(runsDir, id, 'manifest.json'), 'utf8'));
  /** Posts a hand-made multipart body; asserts status + code and that nothing was written. */
  async function refused(parts: Part[] | Buffer, status: number, code: string, opts: Parameters<typeof rawPost>[3] = {}) {
    const before = snapshot(runsDir);
    const res = await rawPost(url, '/jobs', Buffer.isBuffer(parts) ? parts : multipartBody(parts), opts);
    assert.ok(res, 'an answer');
    assert.equal(res.status, status, res.body);
    const body = JSON.parse(res.body);
    assert.equal(body.error.code, code, res.body);
    assert.deepEqual(snapshot(runsDir).filter((p) => !p.startsWith('/.uploads')), before.filter((p) => !p.startsWith('/.uploads')), 'no run written');
    assert.deepEqual(readdirSync(join(runsDir, '.uploads')), [], 'no staged file left');
    return body.error;
  }

  it('multipart: the job part and file parts land in <run>/inputs with sha256, listed in the manifest', async () => {
    const res = await post(form(videoJob({ name: 'mp' }), [['face', PNG, 'me.png', 'image/png'], ['voice', WAV, 'hello.wav', 'audio/wav'], ['extra', Buffer.from('kept'), 'notes.txt']]));
    assert.equal(res.status, 202);
    const body = (await res.json()) as Record<string, string>;
    assert.equal(body.manifest_url, `/jobs/${body.run_id}/manifest`);
    assert.equal(body.artifacts_url, `/jobs/${body.run_id}/artifacts`);
    const dir = join(runsDir, body.run_id as string, 'inputs');
    assert.deepEqual(readFileSync(join(dir, 'face')), PNG);
    assert.deepEqual(readFileSync(join(dir, 'voice')), WAV);
    const m = manifestOf(body.run_id as string);
    assert.deepEqual(m.inputs, [
      { name: 'extra', filename: 'notes.txt', bytes: 4, sha256: sha('kept'), content_type: 'text/plain', source: 'upload' },
      { name: 'face', filename: 'me.png', bytes: PNG.length, sha256: sha(PNG), content_type: 'image/png', source: 'upload' },
      { name: 'voice', filename: 'hello.wav', bytes: WAV.length, sha256: sha(WAV), content_type: 'audio/wav', source: 'upload' },
    ]);
    const job = JSON.parse(readFileSync(join(runsDir, body.run_id as string, 'job.json'), 'utf8'));
    assert.equal(job.name, 'mp');
    assert.deepEqual(job.params[0], { node: '1', input: 'image', input_file: 'face' });
  });

  it('a job part sent as a file (curl -F job=@job.json) is read as the job', async () => {
    const res = await rawPost(url, '/jobs', multipartBody([
      { name: 'face', filename: 'a.png', type: 'image/png', data: PNG },
      { name: 'voice', filename: 'a.wav', data: WAV },
      { name: 'job', filename: 'job.json', type: 'application/json', data: JSON.stringify(videoJob()) },
    ]));
    assert.equal(res?.status, 202, res?.body);
    const m = manifestOf(JSON.parse(res?.body ?? '{}').run_id);
    assert.deepEqual(m.inputs.map((i: { name: string }) => i.name), ['face', 'voice']);
    assert.equal(m.inputs[1].content_type, 'audio/wav', 'guessed from the file name when not declared');
  });

  it('JSON: inline base64 inputs become files; URL inputs wait for prepare; job.json keeps no bytes', async () => {
    const job = videoJob({ inputs: { face: { base64: PNG.toString('base64'), filename: '../../etc/me.png' }, voice: { url: 'https://media.example.com/v.wav' } } });
    const res = await post(JSON.stringify(job), { 'content-type': 'application/json' });
    assert.equal(res.status, 202);
    const { run_id: id } = (await res.json()) as { run_id: string };
    assert.deepEqual(readFileSync(join(runsDir, id, 'inputs', 'face')), PNG);
    assert.deepEqual(manifestOf(id).inputs, [
      { name: 'face', filename: 'me.png', bytes: PNG.length, sha256: sha(PNG), content_type: 'image/png', source: 'inline' },
    ]);
    const stored = readFileSync(join(runsDir, id, 'job.json'), 'utf8');
    assert.ok(!stored.includes(PNG.toString('base64')));
    assert.deepEqual(JSON.parse(stored).inputs, { voice: { url: 'https://media.example.com/v.wav' } });
  });

  it('URL inputs the guard refuses outright are 400 at POST, naming the input', async () => {
    for (const [u, why] of [
      ['https://media.example.org/x.png', /not in the allow-list/],
      ['http://127.0.0.1/x.png', /loopback/],
      ['https://user:pw@media.example.com/x.png', /credentials/],
      ['http://[::ffff:127.0.0.1]/', /not in the allow-list|loopback/],
    ] as const) {
      const before = snapshot(runsDir);
      const res = await post(JSON.stringify(videoJob({ inputs: { face: { url: u }, voice: { base64: 'eA==' } } })), { 'content-type': 'application/json' });
      assert.equal(res.status, 400, u);
      const err = ((await res.json()) as { error: { code: string; details: { path: string; message: string }[] } }).error;
      assert.equal(err.code, 'validation_failed');
      assert.equal(err.details[0]?.path, 'inputs.face.url');
      assert.match(err.details[0]?.message ?? '', why);
      assert.deepEqual(snapshot(runsDir), before);
    }
  });

  it('a job without inputs has `inputs: []` in its manifest', async () => {
    const res = await post(JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }), { 'content-type': 'application/json' });
    assert.equal(res.status, 202);
    assert.deepEqual(manifestOf(((await res.json()) as { run_id: string }).run_id).inputs, []);
  });

  it('a param naming an unknown input is 400 validation_failed, in both forms', async () => {
    const err = await refused([{ name: 'job', data: JSON.stringify(videoJob()) }, { name: 'face', filename: 'a.png', data: PNG }], 400, 'validation_failed');
    assert.deepEqual(err.details, [{ path: 'params.1.input_file', message: 'names input "voice", which the job does not have' }]);
    const res = await post(JSON.stringify(videoJob()), { 'content-type': 'application/json' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'validation_failed');
  });

  it('limits give 413 naming the limit, and leave nothing', async () => {
    const job = { name: 'job', data: JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }) };
    const big = await refused([job, { name: 'big', filename: 'b.bin', data: Buffer.alloc(MAX_FILE + 1) }], 413, 'payload_too_large');
    assert.deepEqual(big.details, { limit: 'inputs.maxFileBytes', max: MAX_FILE });
    const many = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, filename: 'x', data: 'x' }));
    assert.equal((await refused([job, ...many], 413, 'payload_too_large')).details.limit, 'inputs.maxInputs');
    const inline = { workflow: fixtureWorkflow('workflow-single'), inputs: { a: { base64: Buffer.alloc(MAX_FILE + 3).toString('base64') } } };
    const res = await post(JSON.stringify(inline), { 'content-type': 'application/json' });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { details: { limit: string } } }).error.details.limit, 'inputs.maxFileBytes');
  });

  it('a part whose headers exceed inputs.maxPartHeaderBytes is 413 naming it (wherever the giant header sits)', async () => {
    const job = { name: 'job', data: JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }) };
    const giant = [`X-Pad: ${'p'.repeat(20_000)}`];
    assert.equal((await refused([job, { name: 'a', filename: 'a', data: 'x', headers: giant }], 413, 'payload_too_large')).details.limit, 'inputs.maxPartHeaderBytes');
    const first = multipartBody([job, { name: 'a', filename: 'a', data: 'x' }]).toString('latin1').replace('Content-Disposition: form-data; name="a"', `X-Pad: ${'p'.repeat(20_000)}\r\nContent-Disposition: form-data; name="a"`);
    assert.equal((await refused(Buffer.from(first, 'latin1'), 413, 'payload_too_large')).details.limit, 'inputs.maxPartHeaderBytes');
    await refused([{ ...job, headers: giant }], 413, 'payload_too_large');
  });

  it('form errors: no job part, two job parts, a duplicate input, a bad name, a bad job', async () => {
    const job = { name: 'job', data: JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }) };
    assert.match((await refused([{ name: 'a', filename: 'a', data: 'x' }], 400, 'invalid_multipart')).message, /no `job` part/);
    await refused([job, job], 400, 'invalid_multipart');
    await refused([job, { name: 'a', filename: 'a', data: 'x' }, { name: 'a', filename: 'b', data: 'y' }], 400, 'duplicate_input');
    await refused([job, { name: '../x', filename: 'a', data: 'x' }], 400, 'invalid_input_name');
    await refused([{ name: 'job', data: '{"workflow":' }], 400, 'invalid_json');
    await refused([{ name: 'job', data: '{"workflow":{}}' }, { name: 'a', filename: 'a', data: Buffer.alloc(5000) }], 400, 'validation_failed');
    const both = { workflow: fixtureWorkflow('workflow-single'), inputs: { a: { base64: 'eA==' } } };
    await refused([{ name: 'job', data: JSON.stringify(both) }, { name: 'a', filename: 'a', data: 'x' }], 400, 'duplicate_input');
  });

  it('a request cut off mid-upload leaves no run and no file', async () => {
    const before = snapshot(runsDir);
    const body = multipartBody([{ name: 'job', data: JSON.stringify(videoJob()) }, { name: 'face', filename: 'a.png', data: Buffer.alloc(30_000, 1) }], { end: false });
    assert.equal(await rawPost(url, '/jobs', body, { contentLength: body.length + 50_000, cut: true }), null);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(snapshot(runsDir).filter((p) => !p.startsWith('/.uploads')), before.filter((p) => !p.startsWith('/.uploads')));
    assert.deepEqual(readdirSync(join(runsDir, '.uploads')), []);
    assert.ok(!existsSync(join(runsDir, '.uploads', 'x')));
  });
});
