// Bad input: a table-generated corpus of hostile requests against the real VIDAX process.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { snapshot } from '../support/jobs.ts';
import { type Case, corpus, framing } from './support/corpus.ts';
import { call, parseRaw, rawExchange, type Reply } from './support/http.ts';
import { KEY, startVidaxProc, type VidaxProc } from './support/proc.ts';
import { newSecret } from '../support/webhook-receiver.ts';

const MAX_BODY = 33_554_432; // the shipped default, as in production

/** Why a reply is not a clean 4xx JSON error, or null. */
function problem(r: Reply, checkShape: boolean): string | null {
  if (r.status < 400 || r.status >= 500) return `status ${r.status}`;
  if (/\n\s+at |\.ts:\d+|\/work\/|node_modules|\/tmp\/|\/home\//.test(r.text)) return `stack trace or path in the body: ${r.text.slice(0, 200)}`;
  if (!checkShape) return null;
  let body: { ok?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    body = JSON.parse(r.text);
  } catch {
    return `not JSON: ${JSON.stringify(r.text.slice(0, 120))}`;
  }
  if (body.ok !== false || typeof body.error?.code !== 'string' || typeof body.error?.message !== 'string') return `not the error shape: ${r.text.slice(0, 200)}`;
  const extra = Object.keys(body).filter((k) => k !== 'ok' && k !== 'error');
  const extraErr = Object.keys(body.error).filter((k) => !['code', 'message', 'details'].includes(k));
  if (extra.length + extraErr.length > 0) return `extra fields ${[...extra, ...extraErr].join(',')}`;
  if (!/^application\/json/.test(String(r.headers['content-type']))) return `content-type ${r.headers['content-type']}`;
  return null;
}

async function send(vx: VidaxProc, c: Case): Promise<Reply> {
  if (c.raw !== undefined) return parseRaw(await rawExchange(vx.port, c.raw, 10_000));
  return call(vx.url, c.path ?? '/', {
    method: c.method ?? 'GET',
    ...(c.headers ? { headers: c.headers } : {}),
    ...(c.body === undefined ? {} : { body: c.body }),
    ...(c.chunked ? { chunked: true } : {}),
    timeoutMs: 30_000,
  });
}

describe('bad input: hostile requests against the real process', () => {
  let parent: string;
  let vx: VidaxProc;
  let before0: string[];

  before(async () => {
    parent = tempDir('vidax-hostile-');
    // ComfyUI is never needed: nothing hostile may reach it; a closed port proves it.
    vx = await startVidaxProc(parent, {
      maxBodyBytes: MAX_BODY,
      comfyui: { url: `http://127.0.0.1:${await freePort()}`, autoStart: false },
      webhooks: { secret: newSecret(), urlAllow: ['hooks.example.com'] }, // so the webhook cases meet the URL rules
    });
    before0 = snapshot(parent);
  });
  after(async () => {
    await vx?.kill();
    rmSync(parent, { recursive: true, force: true });
  });

  const healthy = async () => {
    const r = await call(vx.url, '/health', { headers: { 'x-api-key': KEY }, timeoutMs: 10_000 });
    assert.equal(r.status, 200, `health: ${r.status} ${r.text}`);
    assert.equal(vx.proc.child.exitCode, null);
  };

  it('answers every case of the corpus with a 4xx JSON error, writes nothing outside the runs dir, stays healthy', { timeout: 300_000 }, async () => {
    const cases = corpus(MAX_BODY);
    const failures: string[] = [];
    const groups = new Map<string, number>();
    const statuses = new Map<number, number>();
    for (const c of cases) {
      groups.set(c.group, (groups.get(c.group) ?? 0) + 1);
      let r: Reply;
      try {
        r = await send(vx, c);
      } catch (err) {
        failures.push(`[${c.group}] ${c.label}: no answer (${(err as Error).message})`);
        continue;
      }
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      const why = problem(r, true);
      if (why) failures.push(`[${c.group}] ${c.label}: ${why}`);
    }
    console.log(
      `bad input: ${cases.length} hostile requests (${[...groups].map(([g, n]) => `${g} ${n}`).join(', ')}); ` +
        `statuses ${JSON.stringify(Object.fromEntries(statuses))}; failures ${failures.length}${failures.map((f) => `\n  ${f}`).join('')}`,
    );
    await healthy();
    const outside = (list: string[]) => list.filter((p) => !p.startsWith('/runs/') && p !== '/runs:dir');
    assert.deepEqual(outside(snapshot(parent)), outside(before0), 'files outside the runs dir');
    const runs = readdirSync(join(parent, 'runs')).filter((n) => n.startsWith('r_'));
    assert.deepEqual(runs, [], 'no hostile request may create a run');
    assert.doesNotMatch(vx.proc.stdout(), /unhandled error|internal_error/, 'no internal error was logged');
    assert.deepEqual(failures, []);
  });

  it('malformed HTTP framing is refused with a 4xx JSON error and no crash; the server stays healthy', { timeout: 60_000 }, async () => {
    const failures: string[] = [];
    for (const c of framing()) {
      const r = parseRaw(await rawExchange(vx.port, c.raw!, 5000));
      const why = problem(r, true);
      if (why) failures.push(`${c.label}: ${why}`);
    }
    await healthy();
    console.log(`framing: ${framing().length} malformed requests; failures ${failures.length}`);
    assert.deepEqual(failures, []);
  });
});
