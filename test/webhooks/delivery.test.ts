// Webhooks end to end: VIDAX with its managed simulator runs jobs whose webhooks point at real
// local receivers that verify every signature with the `standardwebhooks` package.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { until } from '../support/comfyui.ts';
import { snapshot } from '../support/jobs.ts';
import { startVidaxWithSim, workflow } from '../support/vidax.ts';
import { type Behaviour, newSecret, type Receiver, startReceiver } from '../support/webhook-receiver.ts';

type Vidax = Awaited<ReturnType<typeof startVidaxWithSim>>;
type Entry = { id: string; type: string; state: string; attempts: number; last_status: number | string | null; delivered_at: string | null };

const DEFAULT_TYPES = ['phase.completed', 'phase.completed', 'phase.skipped', 'phase.skipped', 'phase.completed', 'run.completed'];

describe('webhooks end to end (managed simulator, real receivers)', () => {
  const secret = newSecret();
  let vx: Vidax;
  const receivers: Receiver[] = [];
  const receiver = async (behaviour?: Behaviour) => {
    const r = await startReceiver(secret, behaviour);
    receivers.push(r);
    return r;
  };

  before(async () => {
    vx = await startVidaxWithSim({
      config: {
        webhooks: {
          secret,
          urlAllow: ['127.0.0.1'],
          allowLoopback: true,
          timeoutMs: 1000,
          retry: { firstDelayMs: 100, maxDelayMs: 400, giveUpAfterMs: 60_000 },
        },
      },
    });
  });
  after(async () => {
    await vx.close();
    for (const r of receivers) await r.close();
    for (const r of receivers) assert.deepEqual(r.unverified, [], 'every delivery carried a valid signature');
  });

  /** Creates and starts a run with this webhook; waits for its end. */
  const run = async (webhook: Record<string, unknown>) => {
    const id = await vx.createRun({ workflow: workflow('single'), webhook });
    assert.equal((await vx.start(id)).status, 202);
    await vx.waitEnd(id);
    return id;
  };
  const entries = async (id: string): Promise<Entry[]> => (await vx.manifest(id)).webhooks;
  const settled = (id: string, n: number) =>
    until(`${n} settled deliveries of ${id}`, async () => {
      const list = await entries(id);
      return list.length === n && list.every((e) => e.state !== 'pending') ? list : null;
    }, 20_000);

  it('delivers the run end and phase ends by default, signed, in order, each once; the manifest shows them', async () => {
    const r = await receiver();
    const id = await run({ url: r.url });
    const list = await settled(id, 6);
    assert.deepEqual(list.map((e) => e.type), DEFAULT_TYPES);
    for (const e of list) {
      assert.equal(e.state, 'delivered');
      assert.equal(e.attempts, 1);
      assert.equal(e.last_status, 204);
      assert.ok(Date.parse(e.delivered_at ?? '') > 0);
      assert.match(e.id, new RegExp(`^msg_${id}_\\d+$`));
    }
    assert.deepEqual([...r.delivered().values()], [1, 1, 1, 1, 1, 1]);
    const got = [...r.received].sort((a, b) => (a.body.data.seq as number) - (b.body.data.seq as number));
    assert.deepEqual(got.map((x) => x.id), list.map((e) => e.id));
    const events = await vx.events(id);
    for (const x of got) {
      const ev = events.find((e: { seq: number }) => e.seq === x.body.data.seq);
      assert.equal(x.body.type, ev.type);
      assert.equal(x.body.timestamp, ev.ts);
      assert.equal(x.body.data.run_id, id);
    }
    assert.deepEqual(
      got.filter((x) => x.type !== 'run.completed').map((x) => x.body.data.phase),
      ['prepare', 'comfyui', 'stabilize', 'lipsync', 'encode'],
    );
    assert.equal(got.at(-1)?.body.data.exit_status, 'success');
  });

  it('delivers exactly the event types a job asks for', async () => {
    const r = await receiver();
    const id = await run({ url: r.url, events: ['run.created', 'run.started', 'comfyui.queued', 'run.completed'] });
    const list = await settled(id, 4);
    assert.deepEqual(list.map((e) => e.type), ['run.created', 'run.started', 'comfyui.queued', 'run.completed']);
    assert.deepEqual(r.received.map((x) => x.type).sort(), ['comfyui.queued', 'run.completed', 'run.created', 'run.started']);
  });

  it('retries a receiver that fails 3 times with back-off, the same webhook-id each time, then delivers', async () => {
    const r = await receiver((n) => (n <= 3 ? 'fail' : 'ok'));
    const id = await run({ url: r.url, events: ['run.completed'] });
    const [e] = await settled(id, 1);
    assert.equal(e?.state, 'delivered');
    assert.equal(e?.attempts, 4);
    assert.equal(e?.last_status, 204);
    const tries = r.received.filter((x) => x.id === e?.id);
    assert.deepEqual(tries.map((x) => x.answered), [503, 503, 503, 204]);
    assert.equal(new Set(tries.map((x) => JSON.stringify(x.body))).size, 1, 'the same body on every attempt');
  });

  it('a receiver that never answers is a recorded timeout, retried; VIDAX stays healthy', async () => {
    const r = await receiver(() => 'hang');
    const id = await run({ url: r.url, events: ['run.started'] });
    const e = await until('two timed-out attempts', async () => {
      const [x] = await entries(id);
      return x && x.attempts >= 2 ? x : null;
    }, 15_000);
    assert.equal(e.state, 'pending');
    assert.equal(e.last_status, 'timeout');
    assert.equal((await vx.key(vx.api.get('/health'))).status, 200);
  });

  it('reads at most a few KiB of a 10 MB answer: 2xx delivered, 5xx retried', async () => {
    const ok = await receiver(() => 'huge-ok');
    const bad = await receiver((n) => (n === 1 ? 'huge-fail' : 'ok'));
    const a = await run({ url: ok.url, events: ['run.completed'] });
    const b = await run({ url: bad.url, events: ['run.completed'] });
    const [ea] = await settled(a, 1);
    const [eb] = await settled(b, 1);
    assert.deepEqual([ea?.state, ea?.attempts, ea?.last_status], ['delivered', 1, 200]);
    assert.deepEqual([eb?.state, eb?.attempts, eb?.last_status], ['delivered', 2, 204]);
    assert.equal(ok.hugeFinished() + bad.hugeFinished(), 0, 'VIDAX hung up instead of reading 10 MB');
    assert.equal((await vx.key(vx.api.get('/health'))).status, 200);
  });

  it('refuses bad webhook URLs with a clear 400 and writes nothing', async () => {
    const before = snapshot(vx.config.runsDir);
    const cases: [string, unknown, string][] = [
      ['credentials', 'http://user:pw@127.0.0.1:9/x', 'validation_failed'],
      ['ftp scheme', 'ftp://127.0.0.1/x', 'validation_failed'],
      ['file scheme', 'file:///etc/passwd', 'validation_failed'],
      ['javascript scheme', 'javascript:alert(1)', 'validation_failed'],
      ['not a URL', 'hooks', 'validation_failed'],
      ['not a string', 42, 'validation_failed'],
      ['over 2048 characters', `http://127.0.0.1/${'a'.repeat(2100)}`, 'validation_failed'],
      ['private address', 'http://10.0.0.1/x', 'webhook_url_not_allowed'],
      ['metadata address', 'http://169.254.169.254/latest/meta-data', 'webhook_url_not_allowed'],
      ['host not in the allow-list', 'https://example.com/hook', 'webhook_url_not_allowed'],
      ['IPv6 loopback not in the allow-list', 'http://[::1]:9/x', 'webhook_url_not_allowed'],
    ];
    for (const [label, url, code] of cases) {
      const res = await vx.key(vx.api.post('/jobs')).send({ workflow: workflow('single'), webhook: { url } });
      assert.equal(res.status, 400, label);
      assert.equal(res.body.error.code, code, label);
      if (code === 'validation_failed') assert.ok(res.body.error.details.some((d: { path: string }) => d.path === 'webhook.url'), label);
      assert.doesNotMatch(JSON.stringify(res.body), /pw@|passwd/, `${label}: the URL is not echoed`);
    }
    for (const webhook of [{ url: 'http://127.0.0.1/x', events: ['run.exploded'] }, { url: 'http://127.0.0.1/x', events: [] }, { url: 'http://127.0.0.1/x', extra: 1 }, []]) {
      const res = await vx.key(vx.api.post('/jobs')).send({ workflow: workflow('single'), webhook });
      assert.equal(res.status, 400, JSON.stringify(webhook));
      assert.equal(res.body.error.code, 'validation_failed');
    }
    assert.deepEqual(snapshot(vx.config.runsDir), before, 'no run written');
  });
});
