// The outbox and its dispatcher over a real run store, a real URL guard and real receivers
// (no ComfyUI: events are appended the way the runner appends them).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../lib/config.ts';
import type { Job } from '../../lib/jobs/schema.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { createUrlGuard } from '../../lib/net/url-guard.ts';
import { createRunStore } from '../../lib/runs/store.ts';
import { createWebhooks } from '../../lib/webhooks/service.ts';
import { createWebhookTransport } from '../../lib/webhooks/transport.ts';
import { freePort, until } from '../support/comfyui.ts';
import { TEST_KEY, tempDir } from '../support/context.ts';
import { fixtureWorkflow, snapshot } from '../support/jobs.ts';
import { newSecret, type Receiver, startReceiver } from '../support/webhook-receiver.ts';

const secret = newSecret();
const wf = () => fixtureWorkflow('workflow-single') as Job['workflow'];
const retry = { firstDelayMs: 50, maxDelayMs: 200, giveUpAfterMs: 60_000 };

function build(runsDir: string, webhooks: Record<string, unknown> = {}, guard?: ReturnType<typeof createUrlGuard>) {
  const config = parseConfig(
    { apiKey: TEST_KEY, runsDir, webhooks: { secret, urlAllow: ['127.0.0.1'], allowLoopback: true, timeoutMs: 1000, retry, ...webhooks } },
    runsDir,
  ).webhooks;
  const store = createRunStore({ runsDir });
  const log = createMemoryLogger();
  const wh = createWebhooks({ config, runs: store, transport: createWebhookTransport(config, guard), log, version: 'test' });
  return { store, runs: wh.runs, wh, log, close: async () => { await wh.close(); await store.close(); } };
}

/** Appends the events a finished run appends (default subscription: 3 of them). */
async function finish(runs: ReturnType<typeof build>['runs'], id: string) {
  await runs.appendEvent(id, 'run.started');
  await runs.appendEvent(id, 'phase.completed', { phase: 'prepare' });
  await runs.appendEvent(id, 'phase.failed', { phase: 'comfyui', code: 'COMFYUI_CRASHED' });
  await runs.appendEvent(id, 'run.failed', { code: 'COMFYUI_CRASHED' });
  await runs.update(id, (m) => {
    m.run_status = 'failed';
    m.exit_status = 'failed';
  });
}

const records = (workdir: string) =>
  readdirSync(join(workdir, 'webhooks'))
    .filter((n) => n.endsWith('.json'))
    .map((n) => JSON.parse(readFileSync(join(workdir, 'webhooks', n), 'utf8')));

describe('webhook outbox', () => {
  const receivers: Receiver[] = [];
  after(async () => {
    for (const r of receivers) await r.close();
    for (const r of receivers) assert.deepEqual(r.unverified, []);
  });

  it('records each delivery before it is sent: pending on disk while the receiver is down, delivered once after a restart', async () => {
    const dir = tempDir();
    const port = await freePort(); // nobody listens yet
    const url = `http://127.0.0.1:${port}/hooks`;
    const a = build(dir);
    const run = await a.runs.create({ workflow: wf(), webhook: { url } });
    assert.deepEqual(run.manifest.webhooks, []);
    await finish(a.runs, run.run_id);
    const pending = await until('failed attempts recorded', async () => {
      const rs = records(run.workdir);
      return rs.length === 3 && rs.every((r) => r.attempts >= 1) ? rs : null;
    });
    for (const r of pending) {
      assert.equal(r.state, 'pending');
      assert.equal(r.last_status, 'network_error');
      assert.ok(Date.parse(r.next_attempt_at) > Date.parse(r.last_attempt_at));
    }
    assert.deepEqual(pending.map((r) => r.type).sort(), ['phase.completed', 'phase.failed', 'run.failed']);
    assert.ok(existsSync(join(dir, '.webhooks', run.run_id)), 'the run is in the start-up index');
    await a.close();

    const r = await startReceiver(secret, () => 'ok', port);
    receivers.push(r);
    const b = build(dir);
    await b.wh.start();
    await until('3 deliveries', () => r.delivered().size === 3);
    await until('the run leaves the start-up index', () => !existsSync(join(dir, '.webhooks', run.run_id)));
    const m = await b.store.get(run.run_id);
    const list = m.webhooks as { id: string; state: string; delivered_at: string }[];
    assert.deepEqual(list.map((e) => e.state), ['delivered', 'delivered', 'delivered']);
    assert.deepEqual([...r.delivered().keys()].sort(), list.map((e) => e.id).sort());
    assert.deepEqual([...r.delivered().values()], [1, 1, 1]);
    await b.close();
  });

  it('a crash between the event and its record: the next start records it from the event log, with the same id', async () => {
    const dir = tempDir();
    const r = await startReceiver(secret);
    receivers.push(r);
    const port = await freePort();
    const a = build(dir);
    const run = await a.runs.create({ workflow: wf(), webhook: { url: `http://127.0.0.1:${port}/down`, events: ['run.started', 'run.failed'] } });
    await finish(a.runs, run.run_id);
    await a.close();
    // As if VIDAX died after appending the events and before writing their records:
    rmSync(join(run.workdir, 'webhooks'), { recursive: true });
    // (the receiver moved: point the job at the live one, as the same URL would have come back)
    const job = JSON.parse(readFileSync(join(run.workdir, 'job.json'), 'utf8'));
    job.webhook.url = r.url;
    writeFileSync(join(run.workdir, 'job.json'), JSON.stringify(job));
    const b = build(dir);
    await b.wh.start();
    await until('2 deliveries', () => r.delivered().size === 2);
    const events = await b.store.readEvents(run.run_id);
    const seqOf = (t: string) => events.find((e) => e.type === t)?.seq;
    assert.deepEqual([...r.delivered().keys()].sort(), [`msg_${run.run_id}_${seqOf('run.failed')}`, `msg_${run.run_id}_${seqOf('run.started')}`].sort());
    await b.close();
  });

  it('gives up after giveUpAfterMs: state failed, no more attempts, the run leaves the index', async () => {
    const dir = tempDir();
    const r = await startReceiver(secret, () => 'fail');
    receivers.push(r);
    const a = build(dir, { retry: { firstDelayMs: 50, maxDelayMs: 100, giveUpAfterMs: 500 } });
    const run = await a.runs.create({ workflow: wf(), webhook: { url: r.url, events: ['run.failed'] } });
    await finish(a.runs, run.run_id);
    const [rec] = await until('gave up', () => {
      const rs = records(run.workdir);
      return rs[0]?.state === 'failed' ? rs : null;
    });
    assert.equal(rec.last_status, 503);
    assert.ok(rec.attempts >= 3, `${rec.attempts} attempts`);
    assert.ok(Date.parse(rec.failed_at) - Date.parse(rec.created_at) <= 500 + 200);
    assert.equal(rec.next_attempt_at, null);
    const seen = r.received.length;
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(r.received.length, seen, 'no attempt after giving up');
    assert.equal(existsSync(join(dir, '.webhooks', run.run_id)), false);
    await until('manifest shows failed', async () => ((await a.store.get(run.run_id)).webhooks as { state: string }[])[0]?.state === 'failed');
    await a.close();
  });

  it('a host that resolves to a private address is blocked at send time: one recorded attempt, no retry', async () => {
    const dir = tempDir();
    const config = { allow: ['hooks.example.test'], resolve: async () => [{ address: '10.1.2.3', family: 4 }], timeoutMs: 1000 };
    const a = build(dir, { urlAllow: ['hooks.example.test'], allowLoopback: false }, createUrlGuard(config));
    const run = await a.runs.create({ workflow: wf(), webhook: { url: 'https://hooks.example.test/x', events: ['run.started'] } });
    await a.runs.appendEvent(run.run_id, 'run.started');
    const [rec] = await until('blocked', () => {
      const rs = records(run.workdir);
      return rs[0]?.state === 'failed' ? rs : null;
    });
    assert.equal(rec.attempts, 1);
    assert.equal(rec.last_status, 'blocked');
    assert.match(rec.last_error, /private address/);
    await a.close();
  });

  it('at most webhooks.concurrency deliveries are in flight at once', async () => {
    const dir = tempDir();
    const r = await startReceiver(secret, () => 'hang');
    receivers.push(r);
    const a = build(dir, { concurrency: 2, timeoutMs: 600 });
    const events = ['run.created', 'run.started', 'phase.started', 'phase.completed', 'phase.failed', 'run.failed'] as const;
    const run = await a.runs.create({ workflow: wf(), webhook: { url: r.url, events: [...events] } });
    for (const type of events.slice(1)) await a.runs.appendEvent(run.run_id, type);
    await until('every delivery tried', () => new Set(r.received.map((x) => x.id)).size === 6, 10_000);
    assert.equal(r.maxInFlight(), 2);
    await a.close();
  });

  it('a redirect to a private address is refused at the redirect: blocked, no retry, nothing sent there', async () => {
    const dir = tempDir();
    const r = await startReceiver(secret, () => 'redirect-private');
    receivers.push(r);
    const a = build(dir);
    const run = await a.runs.create({ workflow: wf(), webhook: { url: r.url, events: ['run.started'] } });
    await a.runs.appendEvent(run.run_id, 'run.started');
    const [rec] = await until('blocked', () => {
      const rs = records(run.workdir);
      return rs[0]?.state === 'failed' ? rs : null;
    });
    assert.deepEqual([rec.attempts, rec.last_status], [1, 'blocked']);
    assert.match(rec.last_error, /redirect refused/);
    assert.equal(r.received.length, 1);
    await a.close();
  });

  it('refuses a webhook job when no secret is configured (400 webhooks_disabled, nothing written)', async () => {
    const dir = tempDir();
    const config = parseConfig({ apiKey: TEST_KEY, runsDir: dir }, dir).webhooks;
    const store = createRunStore({ runsDir: dir });
    const wh = createWebhooks({ config, runs: store, transport: createWebhookTransport(config), log: createMemoryLogger(), version: 'test' });
    const before = snapshot(dir);
    await assert.rejects(
      wh.runs.create({ workflow: wf(), webhook: { url: 'http://127.0.0.1/x' } }),
      (err: { code?: string; status?: number }) => err.code === 'webhooks_disabled' && err.status === 400,
    );
    assert.deepEqual(snapshot(dir), before);
    const plain = await wh.runs.create({ workflow: wf() });
    assert.equal(plain.manifest.webhooks, undefined, 'a job without a webhook has no webhooks field');
    await wh.close();
    await store.close();
  });
});
