// Contract: real answers of every endpoint (success and error) through the real Node server,
// each checked against the OpenAPI document (declared status, content type, body schema).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type request from 'supertest';
import { functions } from '../../functions/index.ts';
import { openApiPath } from '../../lib/api/openapi.ts';
import { openApiText } from '../../scripts/gen-openapi.ts';
import { until } from '../support/comfyui.ts';
import { contractChecker } from '../support/contract.ts';
import { startVidaxWithSim, workflow } from '../support/vidax.ts';
import { newSecret, type Receiver, startReceiver } from '../support/webhook-receiver.ts';

type Vidax = Awaited<ReturnType<typeof startVidaxWithSim>>;

describe('contract: real answers match the OpenAPI document', () => {
  const secret = newSecret();
  const checker = contractChecker(JSON.parse(openApiText()));
  const problems: string[] = [];
  let vx: Vidax;
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver(secret);
    vx = await startVidaxWithSim({ config: { webhooks: { secret, urlAllow: ['127.0.0.1'], allowLoopback: true } } });
  });
  after(async () => {
    await vx.close();
    await receiver.close();
  });

  /** Sends, checks the answer against the document under `template`, returns it. */
  const call = async (method: string, template: string, path: string, body?: string | object, headers: Record<string, string> = {}) => {
    const api = vx.api as unknown as Record<string, (p: string) => request.Test>;
    let req = (api[method.toLowerCase()] as (p: string) => request.Test)(path).set(headers);
    if (!('x-api-key' in headers)) req = vx.key(req);
    if (body !== undefined) req = req.set('content-type', 'application/json').send(typeof body === 'string' ? body : JSON.stringify(body));
    const res = await req.buffer(true).parse((r, cb) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => {
        text += c;
      });
      r.on('end', () => cb(null, text));
    });
    const text = res.body as string;
    problems.push(...checker.check(method, openApiPath(template), res.status, res.headers['content-type'], text));
    return { status: res.status, text, json: () => JSON.parse(text) };
  };

  it('every endpoint, in its success and error answers', { timeout: 60_000 }, async () => {
    assert.equal((await call('GET', '/health', '/health')).status, 200);
    assert.equal((await call('GET', '/health', '/health', undefined, { 'x-api-key': 'wrong-key-0123456789' })).status, 401);
    assert.equal((await call('GET', '/openapi.json', '/openapi.json')).status, 200);
    assert.equal((await call('GET', '/comfyui/health', '/comfyui/health')).status, 200); // not started yet: ok false
    assert.equal((await call('POST', '/comfyui/start', '/comfyui/start')).status, 202);
    assert.equal((await call('GET', '/comfyui/health', '/comfyui/health')).json().status, 'ready');

    assert.equal((await call('POST', '/jobs', '/jobs', '{"workflow":')).status, 400);
    assert.equal((await call('POST', '/jobs', '/jobs', { workflow: {} })).status, 400);
    assert.equal((await call('POST', '/jobs', '/jobs', { workflow: workflow('single'), webhook: { url: 'http://10.0.0.1/x' } })).status, 400);
    const created = await call('POST', '/jobs', '/jobs', { workflow: workflow('single'), webhook: { url: receiver.url } });
    assert.equal(created.status, 202);
    const id = created.json().run_id as string;
    const queued = await call('POST', '/jobs', '/jobs', { workflow: workflow('single') });
    const queuedId = queued.json().run_id as string;

    assert.equal((await call('GET', '/jobs/:id', `/jobs/${id}`)).json().run_status, 'queued');
    assert.equal((await call('GET', '/jobs/:id', '/jobs/r_1767225600000_0000k3x9qa')).status, 404);
    assert.equal((await call('GET', '/jobs/:id', '/jobs/nope')).status, 404);
    assert.equal((await call('POST', '/jobs/:id/start', '/jobs/r_1767225600000_0000k3x9qa/start')).status, 404);
    assert.equal((await call('POST', '/jobs/:id/start', `/jobs/${id}/start`)).status, 202);
    assert.equal((await call('POST', '/jobs/:id/start', `/jobs/${id}/start`)).status, 409);
    await vx.waitEnd(id);
    await until('webhook deliveries settled', async () => {
      const m = await vx.manifest(id);
      return m.webhooks.length === 6 && m.webhooks.every((w: { state: string }) => w.state === 'delivered');
    });
    assert.equal((await call('GET', '/jobs/:id', `/jobs/${id}`)).json().run_status, 'completed');
    assert.equal((await call('GET', '/jobs/:id/manifest', `/jobs/${id}/manifest`)).json().webhooks.length, 6);
    assert.equal((await call('GET', '/jobs/:id/manifest', `/jobs/${queuedId}/manifest`)).status, 200);
    assert.equal((await call('GET', '/jobs/:id/manifest', '/jobs/r_1767225600000_0000k3x9qa/manifest')).status, 404);
    assert.ok((await call('GET', '/jobs/:id/logs', `/jobs/${id}/logs`)).text.includes('run.completed'));
    assert.equal((await call('GET', '/jobs/:id/logs', '/jobs/r_1767225600000_0000k3x9qa/logs')).status, 404);
    const page = await call('GET', '/jobs', '/jobs?limit=1');
    assert.equal(page.json().items.length, 1);
    assert.equal((await call('GET', '/jobs', `/jobs?cursor=${page.json().next_cursor}`)).status, 200);
    assert.equal((await call('GET', '/jobs', '/jobs?limit=0')).status, 400);
    const stream = await call('GET', '/jobs/:id/events', `/jobs/${id}/events`);
    assert.equal(stream.status, 200);
    assert.match(stream.text, /event: run\.completed\n/);
    assert.equal((await call('GET', '/jobs/:id/events', `/jobs/${id}/events?after=99999`)).status, 400);
    assert.equal((await call('GET', '/jobs/:id/events', `/jobs/${id}/events`, undefined, { 'last-event-id': 'abc' })).status, 400);
    assert.equal((await call('GET', '/jobs/:id/events', '/jobs/r_1767225600000_0000k3x9qa/events')).status, 404);
    const listed = await call('GET', '/jobs/:id/artifacts', `/jobs/${id}/artifacts`);
    const png = (listed.json().artifacts as { path: string; url: string }[]).find((a) => a.path.endsWith('.png'));
    assert.ok(png);
    assert.equal((await call('GET', '/jobs/:id/artifacts', '/jobs/r_1767225600000_0000k3x9qa/artifacts')).status, 404);
    assert.equal((await call('GET', '/jobs/:id/artifacts/:path+', png.url)).status, 200);
    assert.equal((await call('HEAD', '/jobs/:id/artifacts/:path+', png.url)).status, 200);
    assert.equal((await call('GET', '/jobs/:id/artifacts/:path+', png.url, undefined, { range: 'bytes=0-3' })).status, 206);
    assert.equal((await call('GET', '/jobs/:id/artifacts/:path+', png.url, undefined, { range: 'bytes=0-1,3-4' })).status, 416);
    assert.equal((await call('GET', '/jobs/:id/artifacts/:path+', `/jobs/${id}/artifacts/job.json`)).status, 404);
    assert.equal((await call('GET', '/jobs/:id/final.mp4', `/jobs/${id}/final.mp4`)).status, 200);
    assert.equal((await call('HEAD', '/jobs/:id/final.mp4', `/jobs/${id}/final.mp4`)).status, 200);
    assert.equal((await call('GET', '/jobs/:id/final.mp4', `/jobs/${queuedId}/final.mp4`)).status, 404);
    assert.equal((await call('POST', '/jobs/:id/cancel', `/jobs/${queuedId}/cancel`)).status, 200);
    assert.equal((await call('POST', '/jobs/:id/cancel', `/jobs/${queuedId}/cancel`)).status, 200);
    assert.equal((await call('POST', '/jobs/:id/cancel', `/jobs/${id}/cancel`)).status, 409);
    assert.equal((await call('POST', '/jobs/:id/cancel', '/jobs/r_1767225600000_0000k3x9qa/cancel')).status, 404);

    assert.deepEqual(problems, []);
    const untested = functions
      .map((fn) => `${fn.method} ${openApiPath(fn.path)}`)
      .filter((op) => ![...checker.seen].some((s) => s.startsWith(`${op} 2`)));
    assert.deepEqual(untested, [], 'every function needs a success answer checked here: add a call to this test');
  });

  it('the checker does catch an answer that breaks the document', () => {
    const wrong = checker.check('GET', '/health', 200, 'application/json', JSON.stringify({ ok: true, version: 1, uptime_s: -1 }));
    assert.equal(wrong.length, 2, wrong.join('\n'));
    assert.match(checker.check('GET', '/health', 418, 'application/json', '{}')[0] ?? '', /does not declare/);
    assert.match(checker.check('GET', '/jobs/{id}', 404, 'application/json', JSON.stringify({ ok: false, error: { code: 'not_a_code', message: 'x' } }))[0] ?? '', /code/);
  });
});
