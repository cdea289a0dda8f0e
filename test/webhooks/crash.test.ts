// kill -9 the real VIDAX process between a run's events and their webhook deliveries: after a
// restart over the same runs dir every delivery reaches the receiver, once per webhook-id.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { freePort, until } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { type RunningSimulator, startSimulator } from '../support/simulator.ts';
import { workflow } from '../support/vidax.ts';
import { newSecret, type Receiver, startReceiver } from '../support/webhook-receiver.ts';
import { call } from '../reliability/support/http.ts';
import { KEY, startVidaxProc, type VidaxProc } from '../reliability/support/proc.ts';

const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
type Entry = { id: string; state: string; attempts: number; last_status: unknown };

describe('webhooks survive kill -9', () => {
  const secret = newSecret();
  let sim: RunningSimulator;
  let base: string;
  let vx: VidaxProc | undefined;
  const receivers: Receiver[] = [];
  const config = (timeoutMs: number) => ({
    comfyui: { url: sim.url, autoStart: false, requestTimeoutMs: 5000 },
    webhooks: { secret, urlAllow: ['127.0.0.1'], allowLoopback: true, timeoutMs, retry: { firstDelayMs: 200, maxDelayMs: 500 } },
  });
  const api = async (path: string, body?: unknown) => {
    const r = await call((vx as VidaxProc).url, path, { method: body ? 'POST' : 'GET', headers, ...(body ? { body: JSON.stringify(body) } : {}), timeoutMs: 10_000 });
    return { status: r.status, body: r.text ? JSON.parse(r.text) : null };
  };
  /** Creates and starts a run whose webhook is `url`; waits until the run ended. */
  const runTo = async (url: string) => {
    const created = await api('/jobs', { workflow: workflow('single'), webhook: { url } });
    assert.equal(created.status, 202);
    const id = created.body.run_id as string;
    assert.equal((await api(`/jobs/${id}/start`, {})).status, 202);
    await until('run end', async () => ['completed', 'failed'].includes((await api(`/jobs/${id}`)).body.run_status), 20_000);
    return id;
  };
  const entries = async (id: string): Promise<Entry[]> => (await api(`/jobs/${id}/manifest`)).body.webhooks;

  before(async () => {
    sim = await startSimulator();
    base = tempDir('vidax-webhook-crash-');
  });
  after(async () => {
    await vx?.kill();
    await sim?.stop();
    for (const r of receivers) await r.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('receiver down when the run ends → kill -9 → receiver up → restart: each delivery once', { timeout: 90_000 }, async () => {
    const port = await freePort(); // the receiver is not there yet
    vx = await startVidaxProc(base, config(1000));
    const id = await runTo(`http://127.0.0.1:${port}/hooks`);
    const failed = await until('6 recorded, failed attempts', async () => {
      const list = await entries(id);
      return list.length === 6 && list.every((e) => e.attempts >= 1) ? list : null;
    });
    assert.ok(failed.every((e) => e.state === 'pending' && e.last_status === 'network_error'));
    await vx.kill();

    const r = await startReceiver(secret, () => 'ok', port);
    receivers.push(r);
    vx = await startVidaxProc(base, config(1000));
    await until('6 deliveries after the restart', () => r.delivered().size === 6, 20_000);
    const list = await until('manifest shows them delivered', async () => {
      const l = await entries(id);
      return l.every((e) => e.state === 'delivered') ? l : null;
    });
    assert.deepEqual([...r.delivered().keys()].sort(), list.map((e) => e.id).sort());
    assert.deepEqual([...r.delivered().values()], [1, 1, 1, 1, 1, 1], 'once per id');
    assert.deepEqual(r.unverified, []);
    await vx.stop();
  });

  it('kill -9 while deliveries are in flight (the receiver holds them) → resent after the restart with the same ids, delivered once each', { timeout: 90_000 }, async () => {
    // First request of each id: held, never answered (VIDAX dies waiting); later ones: 204.
    const r = await startReceiver(secret, (n) => (n === 1 ? 'hang' : 'ok'));
    receivers.push(r);
    vx = await startVidaxProc(base, config(30_000));
    const id = await runTo(r.url);
    await until('6 deliveries in flight', () => new Set(r.received.map((x) => x.id)).size === 6, 20_000);
    const held = new Set(r.received.map((x) => x.id));
    assert.equal(r.delivered().size, 0);
    await vx.kill();

    vx = await startVidaxProc(base, config(30_000));
    await until('6 deliveries after the restart', () => r.delivered().size === 6, 20_000);
    assert.deepEqual(new Set(r.delivered().keys()), held, 'the same webhook-ids');
    assert.deepEqual([...r.delivered().values()], [1, 1, 1, 1, 1, 1], 'once per id');
    const list = await until('manifest shows them delivered', async () => {
      const l = await entries(id);
      return l.every((e) => e.state === 'delivered') ? l : null;
    });
    assert.equal(list.length, 6);
    assert.deepEqual(r.unverified, []);
    assert.equal((await api('/health')).status, 200);
  });
});
