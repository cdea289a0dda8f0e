import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { type RunningServer, startServer } from '../../adapters/node.ts';
import jobsCreate from '../../functions/jobs.post.ts';
import jobsGet from '../../functions/jobs-id.get.ts';
import jobsLogs from '../../functions/jobs-id-logs.get.ts';
import jobsManifest from '../../functions/jobs-id-manifest.get.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { isRunId } from '../../lib/runs/run-id.ts';
import { createRunStore } from '../../lib/runs/store.ts';
import { authed, baseContext, TEST_KEY, testConfig } from '../support/context.ts';
import { fixtureWorkflow, invalidJobs, snapshot } from '../support/jobs.ts';

const single = () => ({ workflow: fixtureWorkflow('workflow-single') });
const post = (body: string) => new Request('http://x/jobs', authed({ method: 'POST', body, headers: { 'content-type': 'application/json' } }));
const get = (path: string) => new Request(`http://x${path}`, authed());

function handlerContext() {
  const config = testConfig();
  return { ...baseContext(config), runs: createRunStore({ runsDir: config.runsDir }) };
}

describe('jobs handlers', () => {
  it('POST /jobs → 202 with run_id, status, manifest, workdir and Location; GET reads it back', async () => {
    const ctx = handlerContext();
    const res = await jobsCreate.fetch(post(JSON.stringify({ ...single(), name: 'demo', metadata: { a: 1 } })), ctx);
    assert.equal(res.status, 202);
    const body = await res.json();
    assert.ok(isRunId(body.run_id));
    assert.equal(body.status, 'queued');
    assert.equal(body.workdir, join(ctx.config.runsDir, body.run_id));
    assert.equal(body.manifest, join(body.workdir, 'manifest.json'));
    assert.equal(res.headers.get('location'), `/jobs/${body.run_id}`);

    const status = await jobsGet.fetch(get(`/jobs/${body.run_id}`), ctx);
    assert.equal(status.status, 200);
    const s = await status.json();
    assert.deepEqual(Object.keys(s).sort(), ['artifacts_url', 'created_at', 'error', 'exit_status', 'manifest', 'manifest_url', 'phases', 'run_id', 'run_status', 'updated_at', 'workdir']);
    assert.deepEqual({ run_status: s.run_status, exit_status: s.exit_status, manifest: s.manifest, error: s.error }, {
      run_status: 'queued', exit_status: null, manifest: body.manifest, error: null,
    });
    assert.deepEqual(Object.keys(s.phases), ['prepare', 'comfyui', 'stabilize', 'lipsync', 'encode']);

    const manifest = await jobsManifest.fetch(get(`/jobs/${body.run_id}/manifest`), ctx);
    assert.equal(manifest.status, 200);
    assert.match(manifest.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(await manifest.text(), readFileSync(body.manifest, 'utf8'));

    await ctx.runs.appendEvent(body.run_id, 'note', { text: 'héllo\nworld' });
    const logs = await jobsLogs.fetch(get(`/jobs/${body.run_id}/logs`), ctx);
    assert.equal(logs.status, 200);
    assert.equal(logs.headers.get('content-type'), 'text/plain; charset=utf-8');
    const events = (await logs.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => [e.seq, e.type]), [[1, 'run.created'], [2, 'note']]);
    assert.equal(events[1].text, 'héllo\nworld');
  });

  it('400s every invalid job with its failing paths and writes nothing', async () => {
    const ctx = handlerContext();
    const before = snapshot(ctx.config.runsDir);
    for (const [label, , path, text] of invalidJobs()) {
      const res = await jobsCreate.fetch(post(text), ctx);
      assert.equal(res.status, 400, label);
      const err = (await res.json()).error;
      assert.equal(err.code, 'validation_failed', label);
      assert.ok(err.details.some((d: { path: string }) => d.path === path || d.path.startsWith(`${path}.`)), `${label}: ${JSON.stringify(err.details).slice(0, 300)}`);
    }
    for (const raw of ['', '{', '{"workflow":', 'nul', '\u0000', '{"a":1}}']) {
      const res = await jobsCreate.fetch(post(raw), ctx);
      assert.equal(res.status, 400, JSON.stringify(raw));
      assert.equal((await res.json()).error.code, 'invalid_json');
    }
    assert.deepEqual(snapshot(ctx.config.runsDir), before, 'the runs directory is unchanged');
  });

  it('404s unknown runs and ids that try to leave the runs directory, before touching the disk', async () => {
    const ctx = handlerContext();
    const { run_id: id } = await ctx.runs.create(single() as Parameters<typeof ctx.runs.create>[0]);
    for (const raw of ['r_0000000000000_x', '..', '%2e%2e', '..%2f..%2fetc', '%2fetc%2fpasswd', `${id}%00`, `${id}%2f..`, 'r_..', '.active', `${id}.queued`]) {
      for (const [fn, suffix] of [[jobsGet, ''], [jobsManifest, '/manifest'], [jobsLogs, '/logs']] as const) {
        const res = await fn.fetch(get(`/jobs/${raw}${suffix}`), ctx);
        assert.equal(res.status, 404, `${raw}${suffix}`);
        const err = (await res.json()).error;
        assert.ok(['run_not_found', 'not_found'].includes(err.code), `${raw}${suffix}: ${err.code}`);
      }
    }
    rmSync(ctx.runs.paths(id).events);
    const logs = await jobsLogs.fetch(get(`/jobs/${id}/logs`), ctx);
    assert.equal(logs.status, 404);
    assert.equal((await logs.json()).error.code, 'logs_not_found');
    rmSync(ctx.runs.paths(id).manifest);
    const manifest = await jobsManifest.fetch(get(`/jobs/${id}/manifest`), ctx);
    assert.equal((await manifest.json()).error.code, 'manifest_not_found');
  });
});

describe('jobs through the Node adapter', () => {
  let running: RunningServer;
  const config = testConfig({ maxBodyBytes: 256 * 1024 });
  before(async () => {
    running = await startServer({ config, log: createMemoryLogger() });
  });
  after(() => running.close());

  it('200 parallel POSTs give 200 distinct, valid, readable runs', async () => {
    const wf = fixtureWorkflow('workflow-batch');
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        request(running.server).post('/jobs').set('x-api-key', TEST_KEY).send({ workflow: wf, name: `job ${i}` }),
      ),
    );
    for (const res of results) assert.equal(res.status, 202, JSON.stringify(res.body));
    const ids = results.map((r) => r.body.run_id as string);
    assert.equal(new Set(ids).size, 200);
    for (const [i, res] of results.entries()) {
      const m = JSON.parse(readFileSync(res.body.manifest, 'utf8'));
      assert.equal(m.name, `job ${i}`);
      assert.equal(m.run_status, 'queued');
      const status = await request(running.server).get(`/jobs/${ids[i]}`).set('x-api-key', TEST_KEY);
      assert.equal(status.status, 200);
      assert.equal(status.body.run_id, ids[i]);
    }
  });

  it('a restart (a second server over the same runs directory) reads every run', async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await request(running.server).post('/jobs').set('x-api-key', TEST_KEY).send(single());
      created.push(res.body.run_id);
    }
    await running.close(); // one VIDAX per runs dir: the restart comes after the first is gone
    const second = await startServer({ config, log: createMemoryLogger() });
    running = second; // the next tests (and after()) use the restarted server
    for (const id of created) {
      const res = await request(second.server).get(`/jobs/${id}/manifest`).set('x-api-key', TEST_KEY);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.text).run_id, id);
      const logs = await request(second.server).get(`/jobs/${id}/logs`).set('x-api-key', TEST_KEY);
      assert.match(logs.text, /"type":"run.created"/);
    }
    assert.ok((await second.ctx.runs.listActive()).length >= 205);
  });

  it('answers hostile bodies with 4xx JSON, never a 5xx, and stays healthy', async () => {
    const deep = `{"workflow":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const cases: [string, string, number][] = [
      ['deep nesting', deep, 400],
      ['over maxBodyBytes', JSON.stringify({ workflow: { pad: 'x'.repeat(300 * 1024) } }), 413],
      ['huge string', JSON.stringify({ ...single(), name: 'n'.repeat(200_000) }), 400],
      ['top-level array', '[]', 400],
      ['truncated', '{"workflow":{"1":', 400],
      ['bidi and NUL', JSON.stringify({ ...single(), name: '\u202e\u0000'.repeat(10), 'k\u0000': 1 }), 400],
    ];
    for (const [label, body, status] of cases) {
      const res = await request(running.server).post('/jobs').set('x-api-key', TEST_KEY).set('content-type', 'application/json').send(body);
      assert.equal(res.status, status, label);
      assert.equal(res.body.ok, false, label);
      assert.ok(res.text.length < 20_000, `${label}: the error does not echo the body`);
    }
    const traversal = await request(running.server).get('/jobs/..%2F..%2Fetc%2Fpasswd/manifest').set('x-api-key', TEST_KEY);
    assert.equal(traversal.status, 404);
    const health = await request(running.server).get('/health').set('x-api-key', TEST_KEY);
    assert.equal(health.status, 200);
  });
});
