import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request as undiciRequest } from 'undici';
import { type RunningServer, startServer } from '../../adapters/node.ts';
import artifactGet from '../../functions/jobs-id-artifact.get.ts';
import { parseRange } from '../../lib/files/serve-file.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import type { Job } from '../../lib/jobs/schema.ts';
import { authed, TEST_KEY, testConfig } from '../support/context.ts';
import { fixtureWorkflow } from '../support/jobs.ts';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const BIG = Buffer.alloc(3 * 1024 * 1024 + 17);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7) & 0xff;
const PNG = Buffer.from('89504e470d0a1a0a0000', 'hex');
const FINAL = Buffer.from('0000001c667479706973', 'hex');

describe('artifacts over HTTP', () => {
  let server: RunningServer;
  let url = '';
  let id = '';
  let bare = ''; // a run whose encode has not completed

  before(async () => {
    server = await startServer({ config: testConfig(), log: createMemoryLogger() });
    url = server.url;
    const runs = server.ctx.runs;
    const job = { workflow: fixtureWorkflow('workflow-single') } as Job;
    const staged = join(runs.runsDir, 'stage');
    mkdirSync(staged);
    writeFileSync(join(staged, 'face'), 'face bytes');
    const run = await runs.create(job, undefined, {
      dir: staged,
      entries: [{ name: 'face', filename: 'me.png', bytes: 10, sha256: sha('face bytes'), content_type: 'image/png', source: 'upload' }],
    });
    id = run.run_id;
    const w = run.workdir;
    mkdirSync(join(w, 'outputs', 'sub dir'), { recursive: true });
    writeFileSync(join(w, 'outputs', 'a_00001_.png'), PNG);
    writeFileSync(join(w, 'outputs', 'sub dir', 'big file.bin'), BIG);
    writeFileSync(join(w, 'final.mp4'), FINAL);
    writeFileSync(join(w, 'outputs', 'secret.txt'), 'not listed');
    symlinkSync('/etc/hostname', join(w, 'outputs', 'link.png'));
    await runs.update(id, (m) => {
      m.artifacts.push(
        { path: 'outputs/a_00001_.png', bytes: PNG.length, sha256: sha(PNG), phase: 'comfyui' },
        { path: 'outputs/sub dir/big file.bin', bytes: BIG.length, sha256: sha(BIG), phase: 'comfyui' },
        { path: 'outputs/link.png', bytes: 1, sha256: 'x', phase: 'comfyui' },
        { path: 'final.mp4', bytes: FINAL.length, sha256: sha(FINAL), phase: 'encode' },
      );
      m.phases.encode.status = 'completed';
    });
    bare = (await runs.create(job)).run_id;
  });
  after(() => server.close());

  const get = (path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') =>
    undiciRequest(`${url}${path}`, { method, headers: { 'x-api-key': TEST_KEY, ...headers } });
  const errorCode = async (res: Awaited<ReturnType<typeof get>>) => ((await res.body.json()) as { error: { code: string } }).error.code;

  it('GET /jobs/:id/artifacts lists every manifest file with type and URL, inputs included', async () => {
    const res = await get(`/jobs/${id}/artifacts`);
    assert.equal(res.statusCode, 200);
    const { artifacts } = (await res.body.json()) as { artifacts: Record<string, unknown>[] };
    assert.deepEqual(artifacts.map((a) => [a.path, a.phase, a.content_type, a.url]), [
      ['outputs/a_00001_.png', 'comfyui', 'image/png', `/jobs/${id}/artifacts/outputs/a_00001_.png`],
      ['outputs/sub dir/big file.bin', 'comfyui', 'application/octet-stream', `/jobs/${id}/artifacts/outputs/sub%20dir/big%20file.bin`],
      ['outputs/link.png', 'comfyui', 'image/png', `/jobs/${id}/artifacts/outputs/link.png`],
      ['final.mp4', 'encode', 'video/mp4', `/jobs/${id}/artifacts/final.mp4`],
      ['inputs/face', 'input', 'image/png', `/jobs/${id}/artifacts/inputs/face`],
    ]);
    assert.equal(artifacts[1]?.sha256, sha(BIG));
  });

  it('streams a file with Content-Type, Content-Length, ETag, Accept-Ranges; the listed URL works as given', async () => {
    const res = await get(`/jobs/${id}/artifacts/outputs/sub%20dir/big%20file.bin`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(BIG.length));
    assert.equal(res.headers.etag, `"${sha(BIG)}"`);
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.equal(sha(Buffer.from(await res.body.arrayBuffer())), sha(BIG));
    const input = await get(`/jobs/${id}/artifacts/inputs/face`);
    assert.equal(input.headers['content-type'], 'image/png');
    assert.equal(await input.body.text(), 'face bytes');
  });

  it('HEAD answers the headers without a body', async () => {
    const res = await get(`/jobs/${id}/artifacts/final.mp4`, {}, 'HEAD');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(FINAL.length));
    assert.equal(res.headers.etag, `"${sha(FINAL)}"`);
    assert.equal((await res.body.arrayBuffer()).byteLength, 0);
  });

  it('Range: 206 with Content-Range for a-b, a- and -n; 416 for unsatisfiable, garbage and several ranges', async () => {
    const last = await get(`/jobs/${id}/artifacts/outputs/sub%20dir/big%20file.bin`, { range: 'bytes=-1048576' });
    assert.equal(last.statusCode, 206);
    assert.equal(last.headers['content-range'], `bytes ${BIG.length - 1048576}-${BIG.length - 1}/${BIG.length}`);
    assert.deepEqual(Buffer.from(await last.body.arrayBuffer()), BIG.subarray(BIG.length - 1048576));
    const mid = await get(`/jobs/${id}/artifacts/outputs/sub%20dir/big%20file.bin`, { range: 'bytes=10-19' });
    assert.equal(mid.statusCode, 206);
    assert.equal(mid.headers['content-length'], '10');
    assert.deepEqual(Buffer.from(await mid.body.arrayBuffer()), BIG.subarray(10, 20));
    const open = await get(`/jobs/${id}/artifacts/final.mp4`, { range: 'bytes=4-' });
    assert.deepEqual(Buffer.from(await open.body.arrayBuffer()), FINAL.subarray(4));
    for (const bad of [`bytes=${BIG.length}-`, 'bytes=5-2', 'bytes=0-1,4-5', 'lines=1-2', 'bytes=-0', 'bytes=abc', 'bytes=-']) {
      const res = await get(`/jobs/${id}/artifacts/outputs/sub%20dir/big%20file.bin`, { range: bad });
      assert.equal(res.statusCode, 416, bad);
      assert.equal(res.headers['content-range'], `bytes */${BIG.length}`);
      assert.equal(await errorCode(res), 'range_not_satisfiable');
    }
    const stale = await get(`/jobs/${id}/artifacts/final.mp4`, { range: 'bytes=0-1', 'if-range': '"other"' });
    assert.equal(stale.statusCode, 200, 'If-Range with another ETag: the whole file');
    await stale.body.dump();
  });

  it('If-None-Match with the ETag is 304 with no body', async () => {
    const res = await get(`/jobs/${id}/artifacts/outputs/a_00001_.png`, { 'if-none-match': `"x", "${sha(PNG)}"` });
    assert.equal(res.statusCode, 304);
    assert.equal((await res.body.arrayBuffer()).byteLength, 0);
    const changed = await get(`/jobs/${id}/artifacts/outputs/a_00001_.png`, { 'if-none-match': '"other"' });
    assert.equal(changed.statusCode, 200);
    await changed.body.dump();
  });

  it('GET /jobs/:id/final.mp4 serves final.mp4, and is 404 until encode completed', async () => {
    const res = await get(`/jobs/${id}/final.mp4`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'video/mp4');
    assert.deepEqual(Buffer.from(await res.body.arrayBuffer()), FINAL);
    const head = await get(`/jobs/${id}/final.mp4`, {}, 'HEAD');
    assert.equal(head.headers['content-length'], String(FINAL.length));
    await head.body.dump();
    const early = await get(`/jobs/${bare}/final.mp4`);
    assert.equal(early.statusCode, 404);
    assert.equal(await errorCode(early), 'artifact_not_found');
  });

  it('only manifest-listed paths: unlisted files, symlinks, encoded separators and dot segments are 404 artifact_not_found', async () => {
    for (const p of [
      'outputs/secret.txt', 'outputs/link.png', 'outputs%2fa_00001_.png', '..%2fmanifest.json', '..%2f..%2fetc%2fpasswd',
      'outputs/..%2f..%2fmanifest.json', 'job.json', 'manifest.json', 'inputs%2fface', 'outputs/a_00001_.png%00', 'outputs//a_00001_.png',
      'outputs/%2e%2e/job.json', '%', 'inputs/face%5c', 'logs/events.jsonl',
    ]) {
      const res = await get(`/jobs/${id}/artifacts/${p}`);
      assert.equal(res.statusCode, 404, p);
      assert.equal(await errorCode(res), 'artifact_not_found', p);
    }
    const run = await get('/jobs/r_1700000000000_0000000000/artifacts/final.mp4');
    assert.equal(run.statusCode, 404);
    assert.equal(await errorCode(run), 'run_not_found');
    const list = await get('/jobs/nope/artifacts');
    assert.equal(await errorCode(list), 'run_not_found');
    const anon = await undiciRequest(`${url}/jobs/${id}/artifacts/final.mp4`);
    assert.equal(anon.statusCode, 401);
    await anon.body.dump();
  });

  it('job responses carry manifest_url and artifacts_url', async () => {
    const res = await get(`/jobs/${id}`);
    const body = (await res.body.json()) as Record<string, string>;
    assert.equal(body.manifest_url, `/jobs/${id}/manifest`);
    assert.equal(body.artifacts_url, `/jobs/${id}/artifacts`);
  });

  it('the function works alone, with the platform Response', async () => {
    const res = await artifactGet.fetch(new Request(`http://x/jobs/${id}/artifacts/outputs/a_00001_.png`, authed()), server.ctx);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);
  });
});

describe('parseRange', () => {
  it('reads one range and refuses the rest', () => {
    assert.deepEqual(parseRange('bytes=0-0', 10), [0, 0]);
    assert.deepEqual(parseRange('bytes=5-100', 10), [5, 9]);
    assert.deepEqual(parseRange('bytes=-3', 10), [7, 9]);
    assert.deepEqual(parseRange('bytes=-30', 10), [0, 9]);
    assert.equal(parseRange('bytes=10-', 10), null);
    assert.equal(parseRange('bytes=1-2, 3-4', 10), null);
    assert.equal(parseRange('bytes=99999999999999999-', 10), null);
    assert.equal(parseRange('bytes=0-1', 0), null);
  });
});
