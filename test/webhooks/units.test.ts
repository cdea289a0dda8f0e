import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ConfigError, loadConfig } from '../../lib/config.ts';
import { nextAttemptAt, retryDelay } from '../../lib/webhooks/backoff.ts';
import { messageId, payloadOf, wants } from '../../lib/webhooks/events.ts';
import { secretKey, secretProblem, signedHeaders } from '../../lib/webhooks/signature.ts';
import { TEST_KEY, testConfig } from '../support/context.ts';
import { newSecret } from '../support/webhook-receiver.ts';

describe('webhook signing (Standard Webhooks)', () => {
  it('signatures verify with the standardwebhooks package; a changed byte does not', () => {
    const secret = newSecret();
    const body = payloadOf('r_1767225600000_0000k3x9qa', { ts: '2026-01-01T00:00:00.000Z', seq: 7, type: 'run.completed', exit_status: 'success' });
    const ts = Math.floor(Date.now() / 1000);
    const headers = signedHeaders(secretKey(secret), messageId('r_1767225600000_0000k3x9qa', 7), ts, body);
    assert.match(headers['webhook-signature'] ?? '', /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.equal(headers['webhook-id'], 'msg_r_1767225600000_0000k3x9qa_7');
    assert.deepEqual(new Webhook(secret).verify(body, headers), {
      type: 'run.completed',
      timestamp: '2026-01-01T00:00:00.000Z',
      data: { run_id: 'r_1767225600000_0000k3x9qa', seq: 7, exit_status: 'success' },
    });
    assert.throws(() => new Webhook(secret).verify(body.replace('success', 'failed!'), headers), /signature/i);
    assert.throws(() => new Webhook(newSecret()).verify(body, headers), /signature/i);
  });

  it('refuses secrets that are not whsec_ + base64 of 24..64 bytes, without echoing them', () => {
    assert.equal(secretProblem(newSecret()), null);
    assert.equal(secretProblem(`whsec_${Buffer.alloc(24, 1).toString('base64')}`), null);
    assert.match(secretProblem(`whsec_${Buffer.alloc(23, 1).toString('base64')}`) ?? '', /too short \(23 bytes/);
    assert.match(secretProblem('whsec_c2hvcnQ=') ?? '', /too short/);
    assert.match(secretProblem(`whsec_${Buffer.alloc(65, 1).toString('base64')}`) ?? '', /too long/);
    assert.match(secretProblem('hunter2-hunter2-hunter2-hunter2') ?? '', /must start with "whsec_"/);
    assert.match(secretProblem('whsec_not*base64!') ?? '', /must be base64/);
    for (const bad of ['whsec_c2hvcnQ=', 'hunter2-hunter2-hunter2-hunter2']) {
      assert.throws(
        () => testConfig({ webhooks: { secret: bad } }),
        (err: Error) => err instanceof ConfigError && /webhooks\.secret/.test(err.message) && !err.message.includes(bad),
      );
    }
    const env = testConfig({ webhooks: { secret: newSecret() } }).webhooks;
    assert.deepEqual({ ...env, secret: null, retry: { ...env.retry } }, {
      secret: null, urlAllow: [], allowLoopback: false, timeoutMs: 10_000, concurrency: 8,
      retry: { firstDelayMs: 5000, maxDelayMs: 3_600_000, giveUpAfterMs: 86_400_000 },
    });
    const fromEnv = newSecret();
    const loaded = loadConfig({ env: { VIDAX_API_KEY: TEST_KEY, VIDAX_WEBHOOKS_SECRET: fromEnv }, cwd: process.cwd() });
    assert.equal(loaded.webhooks.secret, fromEnv, 'VIDAX_WEBHOOKS_SECRET overrides the file');
    assert.throws(() => loadConfig({ env: { VIDAX_API_KEY: TEST_KEY, VIDAX_WEBHOOKS_SECRET: 'whsec_c2hvcnQ=' }, cwd: process.cwd() }), /webhooks\.secret: too short/);
  });
});

describe('webhook retry policy', () => {
  const policy = { firstDelayMs: 5000, maxDelayMs: 3_600_000, giveUpAfterMs: 86_400_000 };

  it('doubles from 5 s to 1 h, with jitter within ±25%', () => {
    const mid = (n: number) => retryDelay(n, policy, () => 0.5);
    assert.deepEqual([1, 2, 3, 4, 5].map(mid), [5000, 10_000, 20_000, 40_000, 80_000]);
    assert.equal(mid(10), 2_560_000);
    assert.equal(mid(11), 3_600_000);
    assert.equal(mid(500), 3_600_000);
    assert.equal(retryDelay(1, policy, () => 0), 3750);
    assert.equal(retryDelay(1, policy, () => 0.999999), 6250);
    const spread = new Set(Array.from({ length: 50 }, () => retryDelay(3, policy)));
    assert.ok(spread.size > 10, 'jitter spreads the retries');
  });

  it('gives up once the next attempt would fall past 24 h after the delivery was recorded', () => {
    const created = 0;
    assert.equal(nextAttemptAt(created, 1000, 1, policy, () => 0.5), 6000);
    assert.equal(nextAttemptAt(created, 86_400_000 - 3_600_000, 30, policy, () => 0.5), 86_400_000);
    assert.equal(nextAttemptAt(created, 86_400_000 - 3_600_000 + 1, 30, policy, () => 0.5), null);
    // The whole schedule with no jitter: 11 attempts in the first 85 minutes (0, 5 s … 2560 s
    // later), then one an hour: 33 in 24 h.
    let at = 0;
    let attempts = 0;
    for (let next: number | null = 0; next !== null; attempts += 1) {
      at = next;
      next = nextAttemptAt(created, at, attempts + 1, policy, () => 0.5);
    }
    assert.equal(attempts, 33);
    assert.ok(at <= 86_400_000);
  });
});

describe('webhook event selection', () => {
  it('defaults to the run end and phase ends', () => {
    const spec = { url: 'http://x' };
    for (const t of ['run.completed', 'run.failed', 'phase.completed', 'phase.failed', 'phase.skipped']) assert.ok(wants(spec, t), t);
    for (const t of ['run.created', 'run.started', 'phase.started', 'comfyui.progress']) assert.ok(!wants(spec, t), t);
    assert.ok(wants({ url: 'http://x', events: ['comfyui.progress'] }, 'comfyui.progress'));
    assert.ok(!wants({ url: 'http://x', events: ['comfyui.progress'] }, 'run.completed'));
  });
});
