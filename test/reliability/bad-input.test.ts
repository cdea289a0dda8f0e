// Bad input: a table-generated corpus of hostile requests against the real VIDAX process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { fixtureWorkflow, snapshot } from '../support/jobs.ts';
import { type Case, corpus, framing } from './support/corpus.ts';
import { call, parseRaw, rawExchange, type Reply } from './support/http.ts';
import { KEY, startVidaxProc, type VidaxProc } from './support/proc.ts';
import { newSecret } from '../support/webhook-receiver.ts';
import { BOUNDARY, multipartBody, multipartType, type Part, rawPost } from '../support/multipart.ts';
import { simulatorCommand } from '../support/simulator.ts';

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

  it('answers every case of the corpus with a 4xx JSON error (the odd but valid ones 202), writes nothing outside the runs dir, stays healthy', { timeout: 300_000 }, async () => {
    const cases = corpus(MAX_BODY);
    const failures: string[] = [];
    const groups = new Map<string, number>();
    const statuses = new Map<number, number>();
    const created: string[] = [];
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
      if (c.created) {
        if (r.status !== 202) failures.push(`[${c.group}] ${c.label}: status ${r.status}, expected 202 (the run is created): ${r.text.slice(0, 200)}`);
        else created.push((JSON.parse(r.text) as { run_id: string }).run_id);
        continue;
      }
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
    assert.deepEqual(runs, created.sort(), 'no hostile request may create a run (only the odd but valid `created` cases)');
    assert.equal(created.length, cases.filter((c) => c.created).length);
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

describe('bad input: request targets, Host headers and the request log', () => {
  let parent: string;
  let vx: VidaxProc;
  const PER_SEC = 40;

  before(async () => {
    parent = tempDir('vidax-targets-');
    vx = await startVidaxProc(parent, {
      requestLog: true,
      logUnauthenticatedPerSec: PER_SEC,
      comfyui: { url: `http://127.0.0.1:${await freePort()}`, autoStart: false },
    });
  });
  after(async () => {
    await vx?.kill();
    rmSync(parent, { recursive: true, force: true });
  });

  const requestLines = () =>
    vx.proc
      .stdout()
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as { method: string | null; path: string | null; status: number });
  const settle = () => new Promise((r) => setTimeout(r, 300));
  const raw = async (head: string, key: boolean, body = '') =>
    parseRaw(
      await rawExchange(
        vx.port,
        `${head}\r\n${key ? `x-api-key: ${KEY}\r\n` : ''}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        5000,
      ),
    );

  it('answers *, absolute-form, CONNECT and bad Host headers in the JSON shape: 401 without the key, never 500, each with a log line', { timeout: 60_000 }, async () => {
    const heads = [
      'OPTIONS * HTTP/1.1\r\nHost: x',
      'GET http://evil.example/health HTTP/1.1\r\nHost: x',
      'POST http://evil.example/jobs HTTP/1.1\r\nHost: x',
      'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443',
      ...['a b', 'x:99999', '[::1', '%', 'x/comfyui/start#', 'x@y', 'http://x', ''].map((h) => `GET /health HTTP/1.1\r\nHost: ${h}`),
      'GET /health HTTP/1.1',
      'GET /health HTTP/1.1\r\nHost: a\r\nHost: b',
    ];
    const failures: string[] = [];
    const lines0 = requestLines().length;
    for (const head of heads) {
      const label = JSON.stringify(head);
      const anon = await raw(head, false);
      if (anon.status !== 401) failures.push(`${label} without key: ${anon.status} ${anon.text.slice(0, 120)}`);
      const why = problem(anon, true);
      if (why && anon.status === 401) failures.push(`${label} without key: ${why}`);
      const keyed = await raw(head, true);
      if (keyed.status >= 500 || /\n\s+at |TypeError|Invalid URL/.test(keyed.text)) failures.push(`${label} with key: ${keyed.status} ${keyed.text.slice(0, 160)}`);
      if (!/^application\/json/.test(String(keyed.headers['content-type']))) failures.push(`${label} with key: content-type ${keyed.headers['content-type']}`);
    }
    await settle();
    const logged = requestLines().slice(lines0);
    assert.deepEqual(failures, []);
    assert.equal(logged.length, heads.length * 2, 'one log line per request');
    assert.equal(logged.filter((l) => l.status === 401).length, heads.length);
  });

  it('routes by the request line path alone: Host and %2e%2e never reach another handler; the log has the routed path', { timeout: 60_000 }, async () => {
    const lines0 = requestLines().length;
    // With autoStart off, POST /comfyui/start would answer 500 COMFYUI_START_FAILED: a sign it was reached.
    const viaHost = await raw('POST /jobs HTTP/1.1\r\nHost: x/comfyui/start#', true);
    assert.equal(viaHost.status, 400, viaHost.text);
    assert.equal(JSON.parse(viaHost.text).error.code, 'invalid_json', 'the /jobs handler answered');
    for (const target of ['/jobs/%2e%2e/comfyui/start', '/jobs/%2E%2E/comfyui/start', '/jobs/.%2e/comfyui/start', '/jobs/%2e%2e%2fcomfyui%2fstart', '/x/%2e%2e/%2e%2e/comfyui/start']) {
      const r = await raw(`POST ${target} HTTP/1.1\r\nHost: x`, true);
      assert.ok(r.status === 404 || r.status === 405, `${target}: ${r.status} ${r.text}`);
      assert.doesNotMatch(r.text, /COMFYUI/, target);
    }
    await settle();
    const logged = requestLines().slice(lines0);
    assert.equal(logged[0]?.path, '/jobs', 'the log records the path routed, not the Host');
    assert.ok(logged.slice(1).every((l) => l.path !== '/comfyui/start' && l.path?.startsWith('/')), JSON.stringify(logged));
    const runs = readdirSync(join(parent, 'runs')).filter((n) => n.startsWith('r_'));
    assert.deepEqual(runs, []);
  });

  it('a flood of unauthenticated 15 KB paths writes a bounded log: paths cut, 401 lines rate-limited, the dropped ones counted', { timeout: 60_000 }, async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a fresh second of the limit
    const before = vx.proc.stdout().length;
    const lines0 = requestLines().length;
    const N = 640;
    const path = `/${'p'.repeat(15_000)}`;
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < N) {
        next++;
        const r = await call(vx.url, path, { timeoutMs: 10_000 });
        assert.equal(r.status, 401);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const seconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 1300)); // the drop count is reported within a second
    const added = vx.proc.stdout().slice(before);
    const logged = requestLines().slice(lines0);
    const dropped = added
      .split('\n')
      .filter((l) => l.includes('"msg":"requests not logged"'))
      .reduce((n, l) => n + (JSON.parse(l) as { dropped: number }).dropped, 0);
    console.log(`log flood: ${N} requests of ${path.length} B in ${seconds.toFixed(1)} s → ${logged.length} lines logged, ${dropped} counted as dropped, ${added.length} B of stdout (unbounded: ~${((N * path.length) / 1e6).toFixed(1)} MB)`);
    assert.equal(logged.length + dropped, N, 'every request is either logged or counted');
    assert.ok(logged.length <= PER_SEC * (Math.ceil(seconds) + 1), `${logged.length} lines in ${seconds} s`);
    assert.ok(logged.every((l) => (l.path?.length ?? 0) <= 257), 'logged paths are cut');
    assert.ok(added.length < 200_000, `${added.length} bytes of log`);
  });
});

describe('bad input: symlinks and FIFOs in a run directory, file modes', () => {
  let parent: string;
  let vx: VidaxProc;
  const job = JSON.stringify({ workflow: fixtureWorkflow('workflow-single') });
  const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };

  before(async () => {
    parent = tempDir('vidax-files-');
    vx = await startVidaxProc(parent, { comfyui: { url: `http://127.0.0.1:${await freePort()}`, autoStart: false } });
  });
  after(async () => {
    await vx?.kill();
    rmSync(parent, { recursive: true, force: true });
  });

  const create = async () => {
    const r = await call(vx.url, '/jobs', { method: 'POST', headers, body: job, timeoutMs: 10_000 });
    assert.equal(r.status, 202, r.text);
    return JSON.parse(r.text).run_id as string;
  };

  it('run directories are 0750 and their files 0640 (umask 027): job.json may hold customer data', { timeout: 30_000 }, async () => {
    const id = await create();
    const dir = join(parent, 'runs', id);
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    assert.equal(mode(dir), '750');
    assert.equal(mode(join(dir, 'logs')), '750');
    for (const f of ['job.json', 'manifest.json', 'logs/events.jsonl']) assert.equal(mode(join(dir, f)), '640', f);
  });

  it('a manifest or event log replaced by a symlink is never followed', { timeout: 30_000 }, async () => {
    const id = await create();
    const dir = join(parent, 'runs', id);
    for (const [file, path] of [['manifest.json', `/jobs/${id}/manifest`], ['logs/events.jsonl', `/jobs/${id}/logs`]] as const) {
      rmSync(join(dir, file));
      symlinkSync('/etc/passwd', join(dir, file));
      const r = await call(vx.url, path, { headers: { 'x-api-key': KEY }, timeoutMs: 10_000 });
      assert.equal(r.status, 404, `${path}: ${r.status} ${r.text.slice(0, 100)}`);
      assert.doesNotMatch(r.text, /root:/);
    }
  });

  it('a FIFO in place of a file neither hangs its reader nor stalls the thread pool', { timeout: 30_000 }, async () => {
    const id = await create();
    const events = join(parent, 'runs', id, 'logs', 'events.jsonl');
    rmSync(events);
    execFileSync('mkfifo', [events]);
    // More readers than libuv has threads (4): a blocking open would hold every one of them.
    const t = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => call(vx.url, `/jobs/${id}/logs`, { headers: { 'x-api-key': KEY }, timeoutMs: 10_000 })),
    );
    for (const r of replies) assert.equal(r.status, 404, r.text);
    await create(); // file work still goes through the pool
    console.log(`FIFO: 8 readers answered and a create done in ${(performance.now() - t).toFixed(0)} ms`);
  });
});

/** Hostile multipart bodies for POST /jobs: [label, body, content-type]. None may create a run or leave a file. */
function hostileUploads(): [string, Buffer, string][] {
  const job = { name: 'job', data: JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }) };
  const file = (name: string, extra: Partial<Part> = {}): Part => ({ name, filename: 'f.bin', data: 'bytes', ...extra });
  const body = (parts: Part[], opts?: Parameters<typeof multipartBody>[1]) => multipartBody(parts, opts);
  const cases: [string, Buffer, string][] = [
    ['truncated multipart (no closing boundary)', body([job, file('a', { data: Buffer.alloc(10_000) })], { end: false }), multipartType()],
    ['truncated mid-headers', Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="job"\r\nX-A: b`), multipartType()],
    ['missing job part', body([file('a')]), multipartType()],
    ['two job parts', body([job, job]), multipartType()],
    ['two parts with one name', body([job, file('face'), file('face')]), multipartType()],
    ['no boundary parameter', body([job]), 'multipart/form-data'],
    ['a boundary that is not in the body', body([job]), multipartType('otherBoundary123')],
    ['job part that is not JSON', body([{ name: 'job', data: '{"workflow":' }]), multipartType()],
    ['job part that fails validation', body([{ name: 'job', data: '{"workflow":[]}' }]), multipartType()],
    ['giant part headers (1 MiB)', body([job, file('a', { headers: [`X-Big: ${'h'.repeat(1024 * 1024)}`] })]), multipartType()],
    ['10 000 tiny parts', body([job, ...Array.from({ length: 10_000 }, (_, i) => file(`p${i}`, { data: 'x' }))]), multipartType()],
    ['param naming an input not sent', body([{ name: 'job', data: JSON.stringify({ workflow: fixtureWorkflow('workflow-single'), params: [{ node: '1', input: 'width', input_file: 'nope' }] }) }]), multipartType()],
  ];
  for (const name of ['a/b', '../x', '..', '.', '.hidden', 'a\\b', 'a\u0000b', 'fаce' /* Cyrillic а */, 'a\u202eb', 'ｆａｃｅ', 'a b', '', 'x'.repeat(129), '-lead', 'a%2fb']) {
    cases.push([`input name ${JSON.stringify(name)}`, body([job, file(name)]), multipartType()]);
  }
  return cases;
}

describe('bad input: uploads, URL inputs and artifact paths against the real process', () => {
  let parent: string;
  let vx: VidaxProc;
  let comfyPort = 0;
  let before0: string[];
  let runsDir = '';

  before(async () => {
    parent = tempDir('vidax-hostile-io-');
    comfyPort = await freePort();
    vx = await startVidaxProc(parent, {
      comfyui: { url: `http://127.0.0.1:${comfyPort}`, command: simulatorCommand(comfyPort), startTimeoutMs: 20_000, stopOnExit: true },
      // literal addresses listed on purpose: the range check, not the allow-list, must refuse them
      inputs: { urlAllow: ['localhost', '127.0.0.1', '::1', '169.254.169.254', '10.1.2.3', '192.168.1.1', '100.64.0.1', 'fd00::1', '::ffff:169.254.169.254'] },
    });
    runsDir = join(parent, 'runs');
    before0 = snapshot(parent);
  });
  after(async () => {
    await vx?.stop();
    rmSync(parent, { recursive: true, force: true });
  });

  const key = { 'x-api-key': KEY };
  const runs = () => readdirSync(runsDir).filter((n) => n.startsWith('r_'));
  const staged = () => readdirSync(join(runsDir, '.uploads')).length;

  it('hostile uploads: a 4xx JSON error each, no run, no file left', { timeout: 120_000 }, async () => {
    const failures: string[] = [];
    for (const [label, body, type] of hostileUploads()) {
      const r = await call(vx.url, '/jobs', { method: 'POST', headers: { ...key, 'content-type': type }, body, timeoutMs: 30_000 });
      const why = problem(r, true);
      if (why) failures.push(`${label}: ${why}`);
    }
    // A client that dies mid-upload.
    const cut = multipartBody([{ name: 'job', data: JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }) }, { name: 'a', filename: 'a', data: Buffer.alloc(200_000) }], { end: false });
    await rawPost(vx.url, '/jobs', cut, { contentLength: cut.length + 1_000_000, cut: true });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(failures, []);
    assert.deepEqual(runs(), [], 'no run created');
    assert.equal(staged(), 0, 'no staged file left');
    const outside = (list: string[]) => list.filter((p) => !p.startsWith('/runs/') && p !== '/runs:dir');
    assert.deepEqual(outside(snapshot(parent)), outside(before0), 'no file outside the runs dir');
  });

  it('URL inputs to loopback, link-local, metadata, private, CGNAT, unique-local or mapped addresses are 400 at POST', async () => {
    const failures: string[] = [];
    for (const url of [
      'http://127.0.0.1/x', 'http://[::1]/x', 'http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/x', 'http://192.168.1.1/x',
      'http://100.64.0.1/x', 'http://[fd00::1]/x', 'http://[::ffff:169.254.169.254]/x', 'http://[::ffff:a9fe:a9fe]/x', 'http://2130706433/x',
      'http://0x7f000001/x', 'file:///etc/passwd', 'ftp://localhost/x', 'http://user:pw@localhost/x', 'http://unlisted.example.com/x',
    ]) {
      const body = JSON.stringify({ workflow: fixtureWorkflow('workflow-single'), inputs: { face: { url } } });
      const r = await call(vx.url, '/jobs', { method: 'POST', headers: { ...key, 'content-type': 'application/json' }, body });
      if (r.status !== 400 || problem(r, true)) failures.push(`${url}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(runs(), []);
  });

  it('a host name that resolves to loopback fails prepare with INPUT_FETCH_FAILED, and nothing is fetched', { timeout: 60_000 }, async () => {
    const body = JSON.stringify({ workflow: fixtureWorkflow('workflow-single'), inputs: { face: { url: `http://localhost:${vx.port}/health` } }, params: [{ node: '1', input: 'width', value: 8 }] });
    const created = await call(vx.url, '/jobs', { method: 'POST', headers: { ...key, 'content-type': 'application/json' }, body });
    assert.equal(created.status, 202, created.text);
    const id = JSON.parse(created.text).run_id as string;
    const started = await call(vx.url, `/jobs/${id}/start`, { method: 'POST', headers: key, timeoutMs: 30_000 });
    assert.equal(started.status, 202, started.text);
    let m: { run_status: string; error: { code: string; message: string; details: { input: string; reason: string } } } | null = null;
    for (let i = 0; i < 200 && m?.run_status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      m = JSON.parse((await call(vx.url, `/jobs/${id}`, { headers: key })).text);
    }
    assert.equal(m?.error.code, 'INPUT_FETCH_FAILED');
    assert.match(m?.error.message ?? '', /localhost resolves to a loopback address/);
    assert.deepEqual(m?.error.details, { input: 'face', reason: 'refused' });
    assert.deepEqual(readdirSync(join(runsDir, id)).includes('inputs') ? readdirSync(join(runsDir, id, 'inputs')) : [], []);
  });

  it('artifact paths and Range headers: 404 artifact_not_found / 416, never a file outside the manifest', async () => {
    const form = multipartBody([{ name: 'job', data: JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }) }, { name: 'face', filename: 'f.png', data: Buffer.alloc(5000, 1) }]);
    const created = await call(vx.url, '/jobs', { method: 'POST', headers: { ...key, 'content-type': multipartType() }, body: form });
    assert.equal(created.status, 202, created.text);
    const id = JSON.parse(created.text).run_id as string;
    const ok = await call(vx.url, `/jobs/${id}/artifacts/inputs/face`, { headers: key });
    assert.equal(ok.status, 200);
    const failures: string[] = [];
    const paths = [
      '..%2fmanifest.json', '..%2f..%2f..%2fetc%2fpasswd', '%2e%2e%2fjob.json', 'inputs%2fface', 'inputs%5cface', 'inputs/face%00', 'inputs/%2e%2e/job.json',
      'inputs/..%2f..%2fjob.json', '%2fetc%2fpasswd', 'inputs//face', 'inputs/face%2f', 'job.json', 'manifest.json', 'logs/events.jsonl', 'inputs',
      '%c0%ae%c0%ae%2fjob.json', 'inputs/%ff', '..%252fjob.json', 'inputs/FACE', 'inputs/face.', 'inputs/face%20',
    ];
    for (const p of paths) {
      const r = await call(vx.url, `/jobs/${id}/artifacts/${p}`, { headers: key });
      if (problem(r, true) || r.status !== 404 || JSON.parse(r.text).error.code !== 'artifact_not_found') failures.push(`${p}: ${r.status} ${r.text.slice(0, 120)}`);
    }
    for (const range of ['bytes=abc', 'bytes=0-1,2-3', `bytes=${'1,'.repeat(5000)}1`, 'bytes=5000-', 'bytes=9-3', 'bytes=-0', 'items=0-1', 'bytes=99999999999999999999-', 'bytes=--1']) {
      const r = await call(vx.url, `/jobs/${id}/artifacts/inputs/face`, { headers: { ...key, range } });
      if (problem(r, true) || r.status !== 416) failures.push(`Range ${range.slice(0, 40)}: ${r.status} ${r.text.slice(0, 120)}`);
    }
    assert.deepEqual(failures, []);
  });
});
