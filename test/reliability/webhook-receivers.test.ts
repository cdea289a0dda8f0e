// Hostile webhook receivers against the real VIDAX process: one that never answers, one that
// answers 10 MB with a 2xx, one that answers 10 MB with a 5xx, one that refuses connections.
// Every delivery ends as a recorded attempt (nothing lost), VIDAX stays healthy and small.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { freePort, until } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { type RunningSimulator, startSimulator } from '../support/simulator.ts';
import { workflow } from '../support/vidax.ts';
import { newSecret, type Receiver, startReceiver } from '../support/webhook-receiver.ts';
import { call } from './support/http.ts';
import { KEY, rssOf, startVidaxProc, type VidaxProc } from './support/proc.ts';

const RUNS_EACH = 8; // runs per receiver; 6 deliveries each (the default events)
const MB = 1024 * 1024;
type Entry = { id: string; state: string; attempts: number; last_status: number | string | null };

describe('hostile webhook receivers', () => {
  const secret = newSecret();
  let sim: RunningSimulator;
  let base: string;
  let vx: VidaxProc;
  const receivers: Receiver[] = [];
  const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
  const api = async (path: string, body?: unknown) => {
    const r = await call(vx.url, path, { method: body ? 'POST' : 'GET', headers, ...(body ? { body: JSON.stringify(body) } : {}), timeoutMs: 10_000 });
    return { status: r.status, body: r.text ? JSON.parse(r.text) : null };
  };

  before(async () => {
    sim = await startSimulator();
    base = tempDir('vidax-hostile-hooks-');
    vx = await startVidaxProc(base, {
      comfyui: { url: sim.url, autoStart: false, requestTimeoutMs: 5000 },
      webhooks: { secret, urlAllow: ['127.0.0.1'], allowLoopback: true, timeoutMs: 1500, concurrency: 4, retry: { firstDelayMs: 300, maxDelayMs: 1000 } },
    });
  });
  after(async () => {
    await vx?.kill();
    await sim?.stop();
    for (const r of receivers) await r.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('never-answering, 10 MB and refusing receivers: each delivery a recorded attempt, VIDAX healthy, RSS bounded', { timeout: 180_000 }, async () => {
    const hang = await startReceiver(secret, () => 'hang');
    const hugeOk = await startReceiver(secret, () => 'huge-ok');
    const hugeFail = await startReceiver(secret, () => 'huge-fail');
    receivers.push(hang, hugeOk, hugeFail);
    const refused = `http://127.0.0.1:${await freePort()}/hooks`;
    const targets: [string, string][] = [['hang', hang.url], ['huge-ok', hugeOk.url], ['huge-fail', hugeFail.url], ['refused', refused]];
    const rss0 = rssOf(vx.pid);

    const runs: [string, string][] = [];
    for (let i = 0; i < RUNS_EACH; i++) {
      for (const [kind, url] of targets) {
        const created = await api('/jobs', { workflow: workflow('single'), webhook: { url } });
        assert.equal(created.status, 202);
        assert.equal((await api(`/jobs/${created.body.run_id}/start`, {})).status, 202);
        runs.push([kind, created.body.run_id]);
      }
    }
    const healthMs: number[] = [];
    let rssPeak = rss0;
    const settled = await until('every delivery tried at least once', async () => {
      const t = performance.now();
      assert.equal((await api('/health')).status, 200);
      healthMs.push(performance.now() - t);
      rssPeak = Math.max(rssPeak, rssOf(vx.pid));
      const all: [string, Entry[]][] = [];
      for (const [kind, id] of runs) {
        const m = (await api(`/jobs/${id}/manifest`)).body;
        if (!['completed', 'failed'].includes(m.run_status)) return null;
        all.push([kind, m.webhooks as Entry[]]);
      }
      return all.every(([, list]) => list.length === 6 && list.every((e) => e.attempts >= 1)) ? all : null;
    }, 150_000);

    const by = (kind: string) => settled.filter(([k]) => k === kind).flatMap(([, list]) => list);
    /** The entries of `kind` that are not as expected (listed in the failure). */
    const odd = (kind: string, ok: (e: Entry) => boolean) => by(kind).filter((e) => !ok(e)).map((e) => JSON.stringify(e));
    assert.deepEqual(odd('hang', (e) => e.state === 'pending' && e.last_status === 'timeout'), [], 'never answers: timeouts, retried');
    assert.deepEqual(odd('huge-ok', (e) => e.state === 'delivered' && e.last_status === 200), [], '10 MB 2xx: delivered');
    assert.deepEqual(odd('huge-fail', (e) => e.state === 'pending' && e.last_status === 500), [], '10 MB 5xx: failed attempt, retried');
    assert.deepEqual(odd('refused', (e) => e.state === 'pending' && e.last_status === 'network_error'), [], 'refused: failed attempt, retried');
    assert.equal(hugeOk.hugeFinished() + hugeFail.hugeFinished(), 0, 'VIDAX never read a 10 MB answer to its end');
    for (const r of [hang, hugeOk, hugeFail]) assert.deepEqual(r.unverified, []);
    healthMs.sort((a, b) => a - b);
    const p50 = healthMs[Math.floor(healthMs.length / 2)] ?? 0;
    console.log(
      `hostile receivers: ${runs.length} runs, ${runs.length * 6} deliveries; RSS ${(rss0 / MB).toFixed(0)} → peak ${(rssPeak / MB).toFixed(0)} MB; ` +
        `GET /health p50 ${p50.toFixed(1)} ms over ${healthMs.length} polls`,
    );
    assert.ok(rssPeak - rss0 < 100 * MB, `RSS grew ${((rssPeak - rss0) / MB).toFixed(0)} MB`);
  });
});
