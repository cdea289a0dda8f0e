import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import startJob from '../../functions/jobs-id-start.post.ts';
import { ComfyUIError } from '../../lib/comfyui/errors.ts';
import { vidaxError } from '../../lib/errors.ts';
import type { Runner } from '../../lib/runner/runner.ts';
import { authed, baseContext, testConfig } from '../support/context.ts';

/** POST /jobs/:id/start alone, over a fake runner: the handler's mapping, not the runner's work. */
function withRunner(start: Runner['start'], config = testConfig()) {
  const calls: string[] = [];
  const ctx = {
    ...baseContext(config),
    runner: {
      start: (id: string) => {
        calls.push(id);
        return start(id);
      },
    },
  };
  const post = (path: string, init: RequestInit = {}) => startJob.fetch(new Request(`http://x${path}`, authed({ method: 'POST', ...init })), ctx);
  return { calls, post };
}

describe('POST /jobs/:id/start over a fake runner', () => {
  it('202 with the runner\'s answer and Location; the id reaches the runner decoded', async () => {
    const t = withRunner(async (id) => ({ run_id: id, run_status: 'running' }));
    const res = await t.post('/jobs/r_1767225600000_0/start');
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('location'), '/jobs/r_1767225600000_0');
    assert.deepEqual(await res.json(), { run_id: 'r_1767225600000_0', run_status: 'running' });
    assert.deepEqual(t.calls, ['r_1767225600000_0']);
  });

  it('maps the runner\'s errors: 404 run_not_found, 409 run_already_started, 500 COMFYUI_START_FAILED with details, 503', async () => {
    const cases = [
      [vidaxError('run_not_found', 'no run r_1'), 404],
      [vidaxError('run_already_started', 'run r_1 is running; only a queued run can be started'), 409],
      [new ComfyUIError('COMFYUI_START_FAILED', 'ComfyUI exited with code 1 before it became ready', { details: { exit_code: 1 } }), 500],
      [new ComfyUIError('COMFYUI_TIMEOUT', 'ComfyUI did not become ready within 100 ms'), 500],
      [vidaxError('shutting_down', 'VIDAX is shutting down'), 503],
    ] as const;
    for (const [err, status] of cases) {
      const res = await withRunner(() => Promise.reject(err)).post('/jobs/r_1/start');
      assert.equal(res.status, status, err.code);
      const body = await res.json();
      assert.equal(body.error.code, err.code);
      assert.equal(body.error.message, err.message);
      if (err.details !== undefined) assert.deepEqual(body.error.details, err.details);
    }
  });

  it('never reaches the runner without the key, with another method, or with an oversized body', async () => {
    const t = withRunner(async (id) => ({ run_id: id, run_status: 'running' }), testConfig({ maxBodyBytes: 64 }));
    assert.equal((await t.post('/jobs/r_1/start', { headers: { 'x-api-key': 'wrong' } })).status, 401);
    assert.equal((await t.post('/jobs/r_1/start', { method: 'GET' })).status, 405);
    const big = await t.post('/jobs/r_1/start', { body: 'x'.repeat(100), headers: { 'content-length': '100' } });
    assert.equal(big.status, 413);
    assert.deepEqual(t.calls, []);
  });
});
