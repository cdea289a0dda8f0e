// Load: mixed traffic at 64 connections against the real VIDAX process (request log on, as in
// production), loopback only, with its RSS sampled from /proc. LOAD_SECONDS shortens it.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import autocannon from 'autocannon';
import { freePort } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { fixtureWorkflow } from '../support/jobs.ts';
import { call } from './support/http.ts';
import { KEY, rssOf, startLoggingVidax } from './support/proc.ts';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const SEEDED = 50; // runs created before the load, polled during it
const MB = 1024 * 1024;
const RSS_LIMIT = 300 * MB; // bounded: far above a healthy VIDAX under tsx, far below a leak over a minute

type Req = { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string };
interface Mix {
  name: string;
  connections: number;
  requests: Req[];
}

/** One autocannon instance per kind of traffic, all at once; returns per-kind totals. */
async function fire(url: string, mixes: Mix[], seconds: number) {
  const results = await Promise.all(
    mixes.map(async (mix) => {
      // `requests` (a cycle of requests per connection) is autocannon's; bench/lib's typing leaves it out.
      const opts = { url, connections: mix.connections, duration: seconds, timeout: 10, headers: { 'x-api-key': KEY }, requests: mix.requests };
      const r = await autocannon(opts as Parameters<typeof autocannon>[0]);
      return { name: mix.name, total: r.requests.total, errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, p99: r.latency.p99 };
    }),
  );
  return results;
}

describe('load: 64 connections of mixed traffic', () => {
  let base: string;
  let vx: Awaited<ReturnType<typeof startLoggingVidax>>;
  before(async () => {
    base = tempDir('vidax-load-');
    vx = await startLoggingVidax(base, { comfyui: { url: `http://127.0.0.1:${await freePort()}`, autoStart: false } }, join(base, 'vidax.log'));
  });
  after(async () => {
    await vx?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it(`serves ${SECONDS} s of creates, status polls, manifest and log reads and health with zero errors and bounded RSS`, { timeout: (SECONDS + 120) * 1000 }, async () => {
    const job = JSON.stringify({ workflow: fixtureWorkflow('workflow-single'), name: 'load' });
    const json = { 'x-api-key': KEY, 'content-type': 'application/json' };
    const ids: string[] = [];
    for (let i = 0; i < SEEDED; i += 1) {
      const r = await call(vx.url, '/jobs', { method: 'POST', headers: json, body: job });
      assert.equal(r.status, 202, r.text);
      ids.push((JSON.parse(r.text) as { run_id: string }).run_id);
    }
    const reads = (suffix: string): Req[] => ids.map((id) => ({ method: 'GET', path: `/jobs/${id}${suffix}` }));
    const mixes: Mix[] = [
      { name: 'POST /jobs', connections: 8, requests: [{ method: 'POST', path: '/jobs', headers: json, body: job }] },
      { name: 'GET /jobs/:id', connections: 24, requests: reads('') },
      { name: 'GET /jobs/:id/manifest', connections: 12, requests: reads('/manifest') },
      { name: 'GET /jobs/:id/logs', connections: 12, requests: reads('/logs') },
      { name: 'GET /health', connections: 8, requests: [{ method: 'GET', path: '/health' }] },
    ];
    assert.equal(mixes.reduce((n, m) => n + m.connections, 0), 64);

    const samples: number[] = [rssOf(vx.pid)];
    const sampler = setInterval(() => samples.push(rssOf(vx.pid)), 500);
    let results: Awaited<ReturnType<typeof fire>>;
    try {
      results = await fire(vx.url, mixes, SECONDS);
    } finally {
      clearInterval(sampler);
    }
    samples.push(rssOf(vx.pid));
    const [start, end] = [samples[0]!, samples.at(-1)!];
    const peak = Math.max(...samples);
    const total = results.reduce((n, r) => n + r.total, 0);
    const bad = results.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0);
    const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;
    console.log(
      `load: ${SECONDS} s at 64 connections, ${total} requests (${Math.round(total / SECONDS)}/s), ${bad} errors/timeouts/non-2xx; ` +
        results.map((r) => `${r.name} ${r.total} (p99 ${r.p99} ms, ${r.errors + r.timeouts + r.non2xx} bad)`).join(', ') +
        `; RSS start ${mb(start)}, peak ${mb(peak)}, end ${mb(end)}`,
    );
    for (const r of results) {
      assert.ok(r.total > 0, `${r.name}: no requests`);
      assert.equal(r.errors + r.timeouts, 0, `${r.name}: ${r.errors} errors, ${r.timeouts} timeouts`);
      assert.equal(r.non2xx, 0, `${r.name}: ${r.non2xx} non-2xx answers`);
    }
    assert.ok(peak < RSS_LIMIT, `peak RSS ${mb(peak)} over ${mb(RSS_LIMIT)}`);
    // Still healthy, and every create answered 2xx is on disk.
    assert.equal((await call(vx.url, '/health', { headers: { 'x-api-key': KEY } })).status, 200);
    const created = results.find((r) => r.name === 'POST /jobs')!.total;
    const onDisk = readdirSync(join(base, 'runs')).filter((n) => n.startsWith('r_')).length;
    assert.ok(onDisk >= SEEDED + created, `${onDisk} runs on disk, ${SEEDED + created} answered 202`);
    assert.equal(vx.child.exitCode, null);
  });
});
