import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { blockedRange } from '../../lib/net/ip-ranges.ts';
import { createUrlGuard, hostAllowed, OutboundError, outboundFrom, type Resolver } from '../../lib/net/url-guard.ts';

describe('blockedRange', () => {
  const cases: [string, string | null][] = [
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'], ['::', 'unspecified'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.7.7', 'private'],
    ['172.32.0.1', null], ['172.15.255.255', null],
    ['100.64.0.1', 'cgnat'], ['100.127.255.255', 'cgnat'], ['100.128.0.1', null],
    ['169.254.169.254', 'metadata'], ['169.254.170.2', 'metadata'], ['168.63.129.16', 'metadata'], ['100.100.100.200', 'metadata'],
    ['169.254.1.1', 'link-local'], ['fe80::1', 'link-local'], ['fe80::1%eth0', 'link-local'], ['febf::1', 'link-local'],
    ['fc00::1', 'unique-local'], ['fd12:3456::1', 'unique-local'], ['fd00:ec2::254', 'metadata'],
    ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'], ['255.255.255.255', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'], ['::ffff:10.0.0.1', 'private'], ['::ffff:0:10.0.0.1', 'private'],
    ['::127.0.0.1', 'loopback'], ['64:ff9b::a9fe:a9fe', 'metadata'], ['2002:7f00:1::', 'loopback'],
    ['2001:0:4136:e378::1', 'reserved'], ['2001:db8::1', 'documentation'],
    ['8.8.8.8', null], ['1.1.1.1', null], ['2606:4700:4700::1111', null], ['::ffff:8.8.8.8', null], ['[::1]', 'loopback'],
    ['not-an-ip', null],
  ];
  for (const [ip, want] of cases) {
    test(`${ip} → ${want}`, () => assert.equal(blockedRange(ip), want));
  }
});

test('hostAllowed: exact names and suffixes, case and trailing dot ignored', () => {
  const allow = ['files.example.com', '.cdn.example.net', '*.media.test'];
  assert.ok(hostAllowed('files.example.com', allow));
  assert.ok(hostAllowed('FILES.example.com.', allow));
  assert.ok(!hostAllowed('evil.files.example.com', allow));
  assert.ok(!hostAllowed('example.com', allow));
  assert.ok(hostAllowed('a.cdn.example.net', allow));
  assert.ok(hostAllowed('x.y.cdn.example.net', allow));
  assert.ok(!hostAllowed('cdn.example.net', allow));
  assert.ok(!hostAllowed('evilcdn.example.net', allow));
  assert.ok(hostAllowed('a.media.test', allow));
  assert.ok(!hostAllowed('anything', []));
});

function refusal(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof OutboundError && err.kind === 'refused' && pattern.test(err.message));
}

test('check refuses bad schemes, credentials, unlisted hosts and blocked literal addresses', () => {
  const guard = createUrlGuard({ allow: ['ok.test', '127.0.0.1', '::1', '169.254.169.254', '10.0.0.1', '::ffff:7f00:1', 'fe80::1'] });
  refusal(() => guard.check('ftp://ok.test/a'), /scheme ftp:/);
  refusal(() => guard.check('file:///etc/passwd'), /scheme file:/);
  refusal(() => guard.check('data:text/plain,hi'), /scheme data:/);
  refusal(() => guard.check('http://user:pw@ok.test/'), /credentials/);
  refusal(() => guard.check('http://user@ok.test/'), /credentials/);
  refusal(() => guard.check('https://other.test/'), /not in the allow-list/);
  refusal(() => guard.check('https://ok.test.evil.com/'), /not in the allow-list/);
  refusal(() => guard.check('not a url'), /valid absolute URL/);
  refusal(() => guard.check('http://127.0.0.1/'), /loopback/);
  refusal(() => guard.check('http://0x7f.1/'), /allow-list|loopback/); // WHATWG canonicalises to 127.0.0.1
  refusal(() => guard.check('http://[::1]:8080/'), /loopback/);
  refusal(() => guard.check('http://[::ffff:127.0.0.1]/'), /loopback/);
  refusal(() => guard.check('http://169.254.169.254/latest/meta-data/'), /metadata/);
  refusal(() => guard.check('http://10.0.0.1/'), /private/);
  refusal(() => guard.check('http://[fe80::1]/'), /link-local/);
  assert.equal(guard.check('https://OK.test/a?b=1').hostname, 'ok.test');
  void guard.close();
});

describe('against real local servers', () => {
  let server: ReturnType<typeof createServer>;
  let port = 0;
  let hits: string[] = [];
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {};
  const dir = mkdtempSync(join(tmpdir(), 'vidax-guard-'));

  before(async () => {
    server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      const route = routes[req.url ?? ''];
      if (route) route(req, res);
      else res.end('hello');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
    routes['/to-literal'] = (_q, s) => { s.writeHead(302, { location: `http://127.0.0.1:${port}/secret` }).end(); };
    routes['/to-meta'] = (_q, s) => { s.writeHead(301, { location: `http://meta.test:${port}/secret` }).end(); };
    routes['/to-file'] = (_q, s) => { s.writeHead(302, { location: 'file:///etc/passwd' }).end(); };
    routes['/to-good'] = (_q, s) => { s.writeHead(307, { location: `http://files.test:${port}/echo` }).end(); };
    routes['/see-other'] = (_q, s) => { s.writeHead(303, { location: '/echo' }).end(); };
    routes['/loop'] = (_q, s) => { s.writeHead(302, { location: '/loop' }).end(); };
    routes['/echo'] = (q, s) => {
      let body = '';
      q.on('data', (d) => { body += d; });
      q.on('end', () => s.end(`${q.method}:${body}`));
    };
    routes['/big-declared'] = (_q, s) => { s.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000)); };
    routes['/big-chunked'] = (_q, s) => { s.write('x'.repeat(3000)); s.end('y'.repeat(3000)); };
    routes['/hang'] = () => {};
    routes['/slow-body'] = (_q, s) => { s.write('partial'); };
    routes['/404'] = (_q, s) => { s.writeHead(404).end('no'); };
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const table: Record<string, string[]> = {
    'files.test': ['127.0.0.1'],
    'meta.test': ['169.254.169.254'],
    'private.test': ['10.0.0.7'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'mixed.test': ['127.0.0.1', '192.168.1.1'],
  };
  const resolver = (calls: string[] = []): Resolver => async (host) => {
    calls.push(host);
    const answers = table[host];
    if (!answers) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    return answers.map((address) => ({ address }));
  };
  const allow = ['.test'];
  const text = async (body: AsyncIterable<Uint8Array>) => {
    let s = '';
    for await (const c of body) s += Buffer.from(c).toString();
    return s;
  };
  async function rejects(p: Promise<unknown>, kind: string, pattern: RegExp): Promise<void> {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof OutboundError, `expected OutboundError, got ${String(err)}`);
      assert.equal(err.kind, kind, err.message);
      assert.match(err.message, pattern);
      return true;
    });
  }

  test('a host resolving to loopback is refused by default, and nothing reaches the server', async () => {
    hits = [];
    const guard = createUrlGuard({ allow, resolve: resolver() });
    await rejects(guard.request(`http://files.test:${port}/`), 'refused', /files\.test resolves to a loopback address/);
    await rejects(guard.request(`http://mapped.test:${port}/`), 'refused', /loopback/);
    assert.deepEqual(hits, []);
    await guard.close();
  });

  test('with allowLoopback a named host is fetched, resolved once, on the checked address', async () => {
    hits = [];
    const calls: string[] = [];
    const guard = createUrlGuard({ allow, allowLoopback: true, resolve: resolver(calls) });
    const res = await guard.request(`http://files.test:${port}/x`);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'hello');
    assert.deepEqual(calls, ['files.test']);
    assert.deepEqual(hits, ['GET /x']);
    await guard.close();
  });

  test('no DNS-rebinding window: the answer that was checked is the one connected to', async () => {
    hits = [];
    let n = 0;
    // A rebinding resolver: a good answer first, the metadata address on every later lookup.
    const rebinding: Resolver = async () => [{ address: n++ === 0 ? '127.0.0.1' : '169.254.169.254' }];
    const guard = createUrlGuard({ allow, allowLoopback: true, resolve: rebinding });
    const res = await guard.request(`http://files.test:${port}/once`);
    assert.equal(await text(res.body), 'hello');
    assert.equal(n, 1, 'one lookup per connection: check and connect share it');
    assert.deepEqual(hits, ['GET /once']);
    await guard.close();
  });

  test('every answer is checked: one private address among them refuses the host', async () => {
    const guard = createUrlGuard({ allow, allowLoopback: true, resolve: resolver() });
    await rejects(guard.request(`http://mixed.test:${port}/`), 'refused', /private/);
    await rejects(guard.request(`http://private.test:${port}/`), 'refused', /private/);
    await rejects(guard.request(`http://meta.test:${port}/`), 'refused', /metadata/);
    await rejects(guard.request(`http://nowhere.test:${port}/`), 'network', /cannot resolve nowhere\.test/);
    await guard.close();
  });

  test('allowLoopback never opens the other ranges to a literal address', async () => {
    const guard = createUrlGuard({ allow: ['169.254.169.254', '127.0.0.1'], allowLoopback: true });
    refusal(() => guard.check('http://169.254.169.254/'), /metadata/);
    assert.equal(guard.check(`http://127.0.0.1:${port}/`).port, String(port));
    await guard.close();
  });

  test('every redirect is re-checked', async () => {
    hits = [];
    const guard = createUrlGuard({ allow, allowLoopback: true, resolve: resolver() });
    await rejects(guard.request(`http://files.test:${port}/to-literal`), 'refused', /redirect refused: host 127\.0\.0\.1 is not in the allow-list/);
    await rejects(guard.request(`http://files.test:${port}/to-meta`), 'refused', /meta\.test resolves to a metadata address/);
    await rejects(guard.request(`http://files.test:${port}/to-file`), 'refused', /redirect refused: scheme file:/);
    await rejects(guard.request(`http://files.test:${port}/loop`), 'refused', /more than 5 redirects/);
    assert.ok(!hits.includes('GET /secret'), 'the refused target was never requested');
    const kept = await guard.request(`http://files.test:${port}/to-good`, { method: 'POST', body: 'payload' });
    assert.equal(kept.url, `http://files.test:${port}/echo`);
    assert.equal(await text(kept.body), 'POST:payload', '307 resends method and body');
    const other = await guard.request(`http://files.test:${port}/see-other`, { method: 'POST', body: 'payload' });
    assert.equal(await text(other.body), 'GET:', '303 turns into a GET without a body');
    await guard.close();
  });

  test('the size cap holds for declared and for counted bodies', async () => {
    const guard = createUrlGuard({ allow, allowLoopback: true, resolve: resolver(), maxBytes: 4096 });
    await rejects(guard.request(`http://files.test:${port}/big-declared`), 'too_large', /5000 bytes, over the 4096-byte limit/);
    const res = await guard.request(`http://files.test:${port}/big-chunked`);
    await rejects(text(res.body), 'too_large', /exceeds the 4096-byte limit/);
    const file = join(dir, 'capped.bin');
    await rejects(guard.download(`http://files.test:${port}/big-chunked`, file), 'too_large', /4096/);
    await guard.close();
  });

  test('the timeout covers the headers and the body', async () => {
    const guard = createUrlGuard({ allow, allowLoopback: true, resolve: resolver(), timeoutMs: 300 });
    const t0 = Date.now();
    await rejects(guard.request(`http://files.test:${port}/hang`), 'timeout', /did not answer in time/);
    const res = await guard.request(`http://files.test:${port}/slow-body`);
    await rejects(text(res.body), 'timeout', /did not answer in time/);
    assert.ok(Date.now() - t0 < 3000);
    await guard.close();
  });

  test("undici's own timers firing first (a loaded machine) are timeouts too, not network errors", () => {
    const url = new URL('http://files.test/hook');
    const running = new AbortController().signal; // the exchange's own timer has not fired yet
    for (const code of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']) {
      const direct = outboundFrom(Object.assign(new Error('undici timer'), { code }), running, url);
      const wrapped = outboundFrom(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('undici timer'), { code }) }), running, url);
      for (const e of [direct, wrapped]) assert.deepEqual([e.kind, e.message], ['timeout', 'files.test did not answer in time'], code);
    }
    const reset = outboundFrom(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), running, url);
    assert.deepEqual([reset.kind, reset.message], ['network', 'cannot reach files.test (ECONNRESET)']);
  });

  test('download writes the body and its sha256; a non-2xx answer is an error', async () => {
    const guard = createUrlGuard({ allow, allowLoopback: true, resolve: resolver() });
    const file = join(dir, 'hello.txt');
    const got = await guard.download(`http://files.test:${port}/hello`, file);
    assert.equal(readFileSync(file, 'utf8'), 'hello');
    assert.equal(got.bytes, 5);
    assert.equal(got.sha256, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    await rejects(guard.download(`http://files.test:${port}/404`, file), 'status', /HTTP 404/);
    await guard.close();
  });

  test('the dispatcher alone applies the host and address rules', async () => {
    const { request } = await import('undici');
    const guard = createUrlGuard({ allow: ['files.test'], resolve: resolver() });
    await assert.rejects(request(`http://files.test:${port}/`, { dispatcher: guard.dispatcher }), /loopback/);
    await assert.rejects(request(`http://127.0.0.1:${port}/`, { dispatcher: guard.dispatcher }), /not in the allow-list/);
    await guard.close();
  });
});
