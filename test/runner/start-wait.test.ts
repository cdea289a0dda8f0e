// POST /jobs with "start": true and `Prefer: wait=` (on it and on POST /jobs/:id/start), through
// the real server and the simulator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startServer } from '../../adapters/node.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { freePort } from '../support/comfyui.ts';
import { TEST_KEY, testConfig } from '../support/context.ts';
import { snapshot } from '../support/jobs.ts';
import { startVidaxWithSim, workflow } from '../support/vidax.ts';

type Vidax = Awaited<ReturnType<typeof startVidaxWithSim>>;
const slow = (steps: number) => ({
  '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps, step_ms: 20 } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'wait' } },
});

describe('create-and-start and Prefer: wait', () => {
  let vx: Vidax;
  const post = (path: string, body?: unknown, prefer?: string) => {
    let r = vx.key(vx.api.post(path));
    if (prefer !== undefined) r = r.set('prefer', prefer);
    return body === undefined ? r : r.send(body as object);
  };
  before(async () => {
    vx = await startVidaxWithSim();
  });
  after(() => vx.close());

  it('"start": true creates and starts in one request (202 running); the run completes', async () => {
    const res = await post('/jobs', { workflow: workflow('single'), start: true });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'running');
    assert.equal(res.body.run_status, 'running');
    assert.equal(res.headers.location, `/jobs/${res.body.run_id}`);
    assert.equal((await vx.waitEnd(res.body.run_id)).run_status, 'completed');
    const types = (await vx.events(res.body.run_id)).map((e: { type: string }) => e.type);
    assert.ok(types.indexOf('run.created') < types.indexOf('run.started'));
  });

  it('Prefer: wait=30 holds the answer: 200 with the final summary and Preference-Applied', async () => {
    const res = await post('/jobs', { workflow: workflow('single'), start: true }, 'wait=30');
    assert.equal(res.status, 200);
    assert.equal(res.headers['preference-applied'], 'wait=30');
    assert.equal(res.body.run_status, 'completed');
    assert.equal(res.body.exit_status, 'success');
    assert.equal(res.body.phases.comfyui.status, 'completed');
    assert.deepEqual(res.body, (await vx.get(res.body.run_id)).body, 'the same summary GET /jobs/:id gives');
  });

  it('a run longer than the wait answers the usual 202 after about the wait', async () => {
    const t0 = Date.now();
    const res = await post('/jobs', { workflow: slow(150), start: true }, 'respond-async, wait=1');
    const took = Date.now() - t0;
    assert.equal(res.status, 202);
    assert.equal(res.headers['preference-applied'], undefined);
    assert.ok(took >= 950 && took < 2900, `answered after ${took} ms`);
    assert.equal((await vx.waitEnd(res.body.run_id)).run_status, 'completed');
  });

  it('POST /jobs/:id/start honours Prefer: wait too; a huge wait is cut to 60', async () => {
    const id = await vx.createRun({ workflow: workflow('single') });
    const res = await post(`/jobs/${id}/start`, undefined, 'wait=99999999999999999999999');
    assert.equal(res.status, 200);
    assert.equal(res.headers['preference-applied'], 'wait=60');
    assert.equal(res.body.run_status, 'completed');
    const plain = await post('/jobs', { workflow: workflow('single') }, 'wait=5'); // no start: nothing to wait for
    assert.equal(plain.status, 202);
    assert.equal(plain.body.status, 'queued');
  });

  it('400 invalid_prefer for a wait that is not delta-seconds, and nothing is created or started', async () => {
    const before = snapshot(vx.config.runsDir);
    for (const prefer of ['wait=abc', 'wait=-1', 'wait=1.5', 'wait=', 'wait', 'wait=1e3', `wait=${'9'.repeat(5000)}x`]) {
      const res = await post('/jobs', { workflow: workflow('single'), start: true }, prefer);
      assert.equal(res.status, 400, prefer);
      assert.equal(res.body.error.code, 'invalid_prefer', prefer);
    }
    assert.deepEqual(snapshot(vx.config.runsDir), before);
    const id = await vx.createRun({ workflow: workflow('single') });
    const res = await post(`/jobs/${id}/start`, undefined, 'wait=soon');
    assert.equal(res.status, 400);
    assert.equal((await vx.get(id)).body.run_status, 'queued', 'the bad header stopped the start');
    const bad = await post('/jobs', { workflow: workflow('single'), start: 'yes' });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.error.details, [{ path: 'start', message: 'must be true or false' }]);
  });
});

describe('"start": true when ComfyUI cannot be started', () => {
  it('answers the start\'s 500 with Location; the run exists, queued, as after two separate calls', async () => {
    const config = testConfig({ comfyui: { url: `http://127.0.0.1:${await freePort()}`, autoStart: false, healthTimeoutMs: 300 } });
    const running = await startServer({ config, log: createMemoryLogger() });
    try {
      const api = request(running.server);
      const res = await api.post('/jobs').set('x-api-key', TEST_KEY).send({ workflow: workflow('single'), start: true });
      assert.equal(res.status, 500);
      assert.equal(res.body.error.code, 'COMFYUI_START_FAILED');
      const got = await api.get(String(res.headers.location)).set('x-api-key', TEST_KEY);
      assert.equal(got.status, 200);
      assert.equal(got.body.run_status, 'queued');
    } finally {
      await running.close();
    }
  });
});
