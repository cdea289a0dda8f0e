// The hostile-request corpus, generated from tables. Every case must be answered 4xx with the one
// JSON error shape, except the few marked `created` (odd but valid: 202, the run is created). `raw` cases are written byte for byte on a socket (for what node:http won't send).
import { fixtureWorkflow } from '../../support/jobs.ts';
import { KEY } from './proc.ts';

export interface Case {
  group: string;
  label: string;
  method?: string;
  path?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer | (string | Buffer)[];
  chunked?: boolean;
  /** Raw bytes for a socket instead of a node:http request. */
  raw?: string | Buffer;
  /** Odd but valid: answered 202 and the run is created (a BOM before the JSON, issue 9 item 12). */
  created?: boolean;
}

const JSON_KEY = { 'x-api-key': KEY, 'content-type': 'application/json' };
const RUN = 'r_1767225600000_0000k3x9qa'; // a well-formed id of no run
const MIB = 1024 * 1024;

/** A valid job touching every field; each wrong-type case breaks exactly one place in it. */
export function baseJob(): Record<string, unknown> {
  return {
    workflow: fixtureWorkflow('workflow-single'),
    name: 'base',
    metadata: { team: 'a' },
    params: [{ node: '1', input: 'width', value: 32 }],
    phases: { stabilize: { enabled: false }, encode: { fps: 24 } },
    timeout_s: 60,
  };
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  if (path === '') return value as Record<string, unknown>;
  const keys = path.split('.');
  let cur = obj as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[keys.at(-1)!] = value;
  return obj;
}

const jobCase = (group: string, label: string, body: string | Buffer, headers: Record<string, string> = JSON_KEY): Case => ({
  group,
  label,
  method: 'POST',
  path: '/jobs',
  headers,
  body,
});

function malformed(): Case[] {
  const valid = JSON.stringify(baseJob());
  const texts: [string, string][] = [
    ['empty body', ''],
    ['whitespace only', ' \n\t '],
    ['lone brace', '{'],
    ['lone bracket', '['],
    ['unclosed object', '{"workflow":'],
    ['unclosed nested', '{"workflow":{"1":{"class_type":"X"'],
    ['trailing comma', '{"workflow":{},}'],
    ['single quotes', "{'workflow':{}}"],
    ['unquoted keys', '{workflow:{}}'],
    ['NaN', '{"timeout_s":NaN}'],
    ['Infinity literal', '{"timeout_s":Infinity}'],
    ['hex number', '{"timeout_s":0x10}'],
    ['comment', '{/* c */"workflow":{}}'],
    ['two documents', '{"a":1}{"b":2}'],
    ['undefined', 'undefined'],
    ['nul word', 'nul'],
    ['raw control char in string', '{"name":"a\u0001b"}'],
    ['raw newline in string', '{"name":"a\nb"}'],
    ['bad escape', '{"name":"\\x41"}'],
    ['truncated unicode escape', '{"name":"\\u12"}'],
    ['1e309 overflows to Infinity', `{"workflow":${JSON.stringify(fixtureWorkflow('workflow-single'))},"timeout_s":1e309}`],
    ['lone surrogate escape, no workflow', '{"name":"\\ud800"}'],
  ];
  const cases = texts.map(([label, text]) => jobCase('malformed JSON', label, text));
  // A UTF-8 byte-order mark before the JSON (Windows editors write one) is accepted: the run is created.
  cases.push({ ...jobCase('malformed JSON', 'BOM before JSON', `\uFEFF${valid}`), created: true });
  for (const frac of [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.999]) {
    cases.push(jobCase('truncated JSON', `valid job cut at ${Math.round(frac * 1000) / 10}%`, valid.slice(0, Math.floor(valid.length * frac))));
  }
  return cases;
}

function wrongTypes(): Case[] {
  const table: [string, unknown[]][] = [
    ['', [null, true, 0, 'job', []]],
    ['workflow', [null, true, 0, 'wf', [], {}]],
    ['name', [null, true, 0, [], {}]],
    ['metadata', [null, true, 0, 'm', []]],
    ['timeout_s', [null, true, '60', [], {}, 0, -1, 1.5, 86_401]],
    ['params', [null, true, 0, 'p', {}]],
    ['params.0', [null, true, 0, 'p', []]],
    ['params.0.node', [null, 0, [], {}, '']],
    ['params.0.input', [null, 0, [], {}, '']],
    ['phases', [null, true, 0, 'p', []]],
    ['phases.stabilize', [null, true, 0, 's', []]],
    ['phases.encode', [null, true, 0, 'e', []]],
    ['phases.stabilize.enabled', [null, 0, 'true', [], {}]],
    ['phases.encode.fps', [null, '30', 0, 241, 1.5, true]],
    ['workflow.1', [null, true, 0, 'n', []]],
    ['workflow.1.class_type', [null, 0, true, [], {}, '']],
    ['workflow.1.inputs', [null, 0, 'i', [], true]],
    ['workflow.1._meta', [null, 0, 'm', [], true]],
  ];
  return table.flatMap(([path, values]) =>
    values.map((value) => jobCase('wrong type', `${path || '(body)'} = ${JSON.stringify(value)}`, JSON.stringify(setPath(baseJob(), path, value)))),
  );
}

function deepAndHuge(): Case[] {
  const wf = JSON.stringify(fixtureWorkflow('workflow-single'));
  const arr = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const obj = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  const cases: Case[] = [];
  for (const n of [1_000, 10_000, 100_000]) {
    for (const [kind, make] of [['array', arr], ['object', obj]] as const) {
      const d = make(n);
      cases.push(jobCase('deep nesting', `${kind} ${n} deep as the body`, d));
      cases.push(jobCase('deep nesting', `${kind} ${n} deep in metadata`, `{"workflow":${wf},"metadata":{"d":${d}}}`));
      cases.push(jobCase('deep nesting', `${kind} ${n} deep in a node input`, `{"workflow":{"1":{"class_type":"X","inputs":{"v":${d}}}}}`));
      cases.push(jobCase('deep nesting', `${kind} ${n} deep as a param value`, `{"workflow":${wf},"params":[{"node":"1","input":"width","value":${d}}]}`));
    }
  }
  const huge: [string, () => string][] = [
    ['10 MB name', () => JSON.stringify({ workflow: JSON.parse(wf), name: 'x'.repeat(10 * MIB) })],
    ['5 MB class_type', () => JSON.stringify({ workflow: { 1: { class_type: 'C'.repeat(5 * MIB), inputs: {} } } })],
    ['5 MB key', () => `{"workflow":${wf},"${'k'.repeat(5 * MIB)}":1}`],
    ['5 MB node id', () => `{"workflow":{"${'1'.repeat(5 * MIB)}":{"class_type":"X","inputs":{}}}}`],
    ['3 M-element metadata array', () => `{"workflow":${wf},"metadata":[${'0,'.repeat(3_000_000)}0]}`],
    ['1 MB metadata object', () => JSON.stringify({ workflow: JSON.parse(wf), metadata: { blob: 'm'.repeat(MIB) } })],
    ['100 000 params', () => JSON.stringify({ workflow: JSON.parse(wf), params: Array.from({ length: 100_000 }, () => ({ node: '1', input: 'width', value: 1 })) })],
    ['6 000 nodes', () => JSON.stringify({ workflow: Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [String(i), { class_type: 'X', inputs: {} }])) })],
    ['200 000 inputs and an unknown field', () => JSON.stringify({ workflow: { 1: { class_type: 'X', inputs: Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`i${i}`, i])) } }, extra: 1 })],
    ['20 MB string body', () => JSON.stringify('s'.repeat(20 * MIB))],
    ['2 M-element array body', () => `[${'1,'.repeat(2_000_000)}1]`],
  ];
  for (const [label, make] of huge) cases.push(jobCase('huge', label, make()));
  return cases;
}

function overLimit(limit: number): Case[] {
  const over = limit + 1;
  const routes: [string, string][] = [['POST', '/jobs'], ['POST', `/jobs/${RUN}/start`], ['GET', '/health'], ['GET', `/jobs/${RUN}`], ['POST', '/comfyui/start']];
  const cases: Case[] = routes.map(([method, path]) => ({
    group: 'over the limit',
    label: `${method} ${path} declares Content-Length ${over} (sends 10 bytes)`,
    raw: `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${over}\r\n\r\n{"workflow"`,
  }));
  const chunks = Array.from({ length: Math.ceil(over / MIB) + 1 }, () => Buffer.alloc(MIB, 0x20));
  cases.push({ group: 'over the limit', label: `POST /jobs chunked, no Content-Length, ${chunks.length} MiB`, method: 'POST', path: '/jobs', headers: JSON_KEY, body: chunks, chunked: true });
  cases.push({
    group: 'over the limit',
    label: `POST /jobs Content-Length ${over} sent in full`,
    raw: Buffer.concat([Buffer.from(`POST /jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Length: ${over}\r\n\r\n`), Buffer.alloc(over, 0x20)]),
  });
  cases.push({ group: 'over the limit', label: 'POST /jobs Content-Length 10^15', raw: `POST /jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Length: 1000000000000000\r\n\r\n{` });
  return cases;
}

function unicode(): Case[] {
  const wf = fixtureWorkflow('workflow-single');
  const strings = ['\u0000', 'a\u0000b', '\u202eevil', '\u200b', '🎬'.repeat(1000), '\ud83c', 'e\u0301', '\u0007\u001b[31m', 'Ω≈ç√∫'];
  const cases = strings.map((s, i) => jobCase('unicode', `unknown field named ${JSON.stringify(s).slice(0, 30)} #${i}`, JSON.stringify({ workflow: wf, [s]: s })));
  cases.push(jobCase('unicode', 'NUL bytes in the middle of the body', Buffer.concat([Buffer.from('{"workflow":'), Buffer.from([0, 0, 0]), Buffer.from('{}}')])));
  cases.push(jobCase('unicode', 'invalid UTF-8 bytes and no workflow', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}')])));
  cases.push(jobCase('unicode', 'UTF-16 body', Buffer.from(`{"workflow":${JSON.stringify(wf)}}`, 'utf16le'), { ...JSON_KEY, 'content-type': 'application/json; charset=utf-16' }));
  cases.push(jobCase('unicode', 'control chars in node ids', JSON.stringify({ workflow: { '\u0000': { class_type: 'X', inputs: {} }, '\n': { class_type: 'SaveImage', inputs: { images: ['\u0001', 0] } } } })));
  cases.push(jobCase('unicode', 'path separators in a filename_prefix param', JSON.stringify({ workflow: wf, params: [{ node: '2', input: 'filename_prefix', value: '\u0000/../../etc/x' }] })));
  return cases;
}

function contentTypes(): Case[] {
  const bodies: [string, string][] = [
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="workflow"\r\n\r\n{}\r\n--x--\r\n'],
    ['application/x-www-form-urlencoded', 'workflow=%7B%7D&name=x'],
    ['text/plain', 'please run my workflow'],
    ['application/xml', '<job><workflow/></job>'],
    ['application/octet-stream', '\u0000\u0001\u0002binary'],
    ['application/json; charset=latin1', 'caf\u00e9'],
    ['image/png', '\u0089PNG\r\n\u001a\n'],
    ['', '{"workflow":'],
  ];
  return bodies.map(([type, body]) => jobCase('content type', `${type || '(empty)'} with a non-job body`, body, { 'x-api-key': KEY, 'content-type': type }));
}

function traversal(): Case[] {
  const ids = [
    '..', '%2e%2e', '%2E%2E', '.%2e', '..%2f..%2fetc%2fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%5c..%5cwindows%5cwin.ini',
    '%2fetc%2fpasswd', '%252e%252e%252f', `${RUN}%2f..%2f..%2f..%2fetc`, '%00', `${RUN}%00`, `${RUN}%00.json`,
    'a'.repeat(4000), '%E2%80%A4%E2%80%A4', '%EF%BC%8E%EF%BC%8E%EF%BC%8F', '%c0%ae%c0%ae%c0%af', '....%2f%2f', 'C:%5cWindows', '~root', '%zz',
  ];
  const routes: [string, (id: string) => string][] = [
    ['GET', (id) => `/jobs/${id}`],
    ['POST', (id) => `/jobs/${id}/start`],
    ['GET', (id) => `/jobs/${id}/manifest`],
    ['GET', (id) => `/jobs/${id}/logs`],
  ];
  const cases: Case[] = [];
  for (const [method, path] of routes) {
    for (const id of ids) cases.push({ group: 'path traversal', label: `${method} ${path(id.slice(0, 60))}`, method, path: path(id), headers: { 'x-api-key': KEY } });
    cases.push({ group: 'path traversal', label: `${method} ${path('//etc/passwd')}`, method, path: path('/etc/passwd'), headers: { 'x-api-key': KEY } });
    cases.push({ group: 'path traversal', label: `${method} ${path('<raw ../..>')}`, raw: `${method} ${path('../../../../etc/passwd')} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Length: 0\r\n\r\n` });
  }
  return cases;
}

export const ROUTES: [string, string][] = [
  ['GET', '/health'], ['GET', '/comfyui/health'], ['POST', '/comfyui/start'], ['GET POST', '/jobs'],
  ['POST', `/jobs/${RUN}/start`], ['GET', `/jobs/${RUN}`], ['GET', `/jobs/${RUN}/manifest`], ['GET', `/jobs/${RUN}/logs`],
  ['GET', `/jobs/${RUN}/events`], ['POST', `/jobs/${RUN}/cancel`],
];

function wrongMethods(): Case[] {
  return ROUTES.flatMap(([right, path]) =>
    ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
      .filter((m) => !right.split(' ').includes(m))
      .map((method) => ({ group: 'wrong method', label: `${method} ${path}`, method, path, headers: { 'x-api-key': KEY }, ...(method === 'GET' || method === 'OPTIONS' ? {} : { body: '{}' }) })),
  );
}

function keys(): Case[] {
  const variants: [string, Record<string, string | string[]>, string?][] = [
    ['no key', {}],
    ['empty key', { 'x-api-key': '' }],
    ['wrong key', { 'x-api-key': 'wrong-key-0123456789abcdef' }],
    ['key with one extra character', { 'x-api-key': `${KEY}x` }],
    ['key prefix', { 'x-api-key': KEY.slice(0, -1) }],
    ['upper-cased key', { 'x-api-key': KEY.toUpperCase() }],
    ['duplicated right key', { 'x-api-key': [KEY, KEY] }],
    ['right then wrong key', { 'x-api-key': [KEY, 'nope'] }],
    ['wrong then right key', { 'x-api-key': ['nope', KEY] }],
    ['Authorization: Bearer instead', { authorization: `Bearer ${KEY}` }],
    ['key in the query string', {}, `?x-api-key=${KEY}`],
    ['key in the query as api_key', {}, `?api_key=${KEY}&key=${KEY}`],
    ['12 KB key', { 'x-api-key': 'k'.repeat(12_000) }],
  ];
  const routes: [string, string][] = [['GET', '/health'], ['POST', '/jobs'], ['GET', `/jobs/${RUN}`], ['GET', '/no/such/route']];
  return routes.flatMap(([method, path]) =>
    variants.map(([label, headers, query]) => ({
      group: 'API key',
      label: `${label}: ${method} ${path}`,
      method,
      path: `${path}${query ?? ''}`,
      headers: { ...headers, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }) } : {}),
    })),
  );
}

/** Everything node:http itself answers (framing): expected 4xx; the JSON shape is checked separately. */
export function framing(): Case[] {
  const h = `Host: x\r\nX-API-Key: ${KEY}\r\n`;
  const list: [string, string | Buffer][] = [
    ['NUL in the request line', Buffer.concat([Buffer.from('GET /jobs/'), Buffer.from([0]), Buffer.from(` HTTP/1.1\r\n${h}\r\n`)])],
    ['raw UTF-8 in the path', Buffer.from(`GET /jobs/\u2024\u2024/manifest HTTP/1.1\r\n${h}\r\n`, 'utf8')],
    ['space in the path', `GET /jobs/a b HTTP/1.1\r\n${h}\r\n`],
    ['unknown method', `BREW /health HTTP/1.1\r\n${h}\r\n`],
    ['bad HTTP version', `GET /health HTTP/9.9\r\n${h}\r\n`],
    ['invalid header name', `GET /health HTTP/1.1\r\n${h}Bad Header: 1\r\n\r\n`],
    ['header over 16 KiB', `GET /health HTTP/1.1\r\n${h}X-Big: ${'b'.repeat(20_000)}\r\n\r\n`],
    ['Content-Length and Transfer-Encoding', `POST /jobs HTTP/1.1\r\n${h}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['two different Content-Lengths', `POST /jobs HTTP/1.1\r\n${h}Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}`],
    ['negative Content-Length', `POST /jobs HTTP/1.1\r\n${h}Content-Length: -1\r\n\r\n{}`],
    ['bad chunk size', `POST /jobs HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`],
    ['LF-only line endings', `GET /health HTTP/1.1\n${h.replaceAll('\r\n', '\n')}\n`],
  ];
  return list.map(([label, raw]) => ({ group: 'framing', label, raw }));
}

/** Webhook URLs and fields VIDAX must refuse (the hostile process allows hooks.example.com only). */
function webhooks(): Case[] {
  const urls: [string, unknown][] = [
    ['credentials', 'https://user:secret@hooks.example.com/x'],
    ['user name only', 'https://user@hooks.example.com/x'],
    ['ftp scheme', 'ftp://hooks.example.com/x'],
    ['file scheme', 'file:///etc/passwd'],
    ['data scheme', 'data:text/plain,hi'],
    ['javascript scheme', 'javascript:alert(1)'],
    ['gopher scheme', 'gopher://hooks.example.com:70/_x'],
    ['relative URL', '/hooks'],
    ['loopback', 'http://127.0.0.1:8787/jobs'],
    ['loopback by name', 'http://localhost/x'],
    ['IPv6 loopback', 'http://[::1]/x'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/x'],
    ['private 10/8', 'http://10.0.0.1/x'],
    ['private 192.168/16', 'http://192.168.1.1/x'],
    ['link-local', 'http://169.254.1.1/x'],
    ['metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['decimal IP', 'http://2130706433/x'],
    ['host outside the allow-list', 'https://evil.example.net/x'],
    ['allow-listed suffix trick', 'https://hooks.example.com.evil.net/x'],
    ['URL over 2048 chars', `https://hooks.example.com/${'a'.repeat(3000)}`],
    ['URL with NUL', 'https://hooks.example.com/\u0000'],
    ['URL a number', 42],
    ['URL null', null],
  ];
  const fields: [string, unknown][] = [
    ['webhook a string', 'https://hooks.example.com/x'],
    ['webhook an array', ['https://hooks.example.com/x']],
    ['unknown event type', { url: 'https://hooks.example.com/x', events: ['run.exploded'] }],
    ['empty events', { url: 'https://hooks.example.com/x', events: [] }],
    ['repeated event type', { url: 'https://hooks.example.com/x', events: ['run.failed', 'run.failed'] }],
    ['events not an array', { url: 'https://hooks.example.com/x', events: 'run.failed' }],
    ['unknown webhook field', { url: 'https://hooks.example.com/x', secret: 'mine' }],
    ['missing url', { events: ['run.failed'] }],
  ];
  return [
    ...urls.map(([label, url]) => jobCase('webhooks', label, JSON.stringify({ ...baseJob(), webhook: { url } }))),
    ...fields.map(([label, webhook]) => jobCase('webhooks', label, JSON.stringify({ ...baseJob(), webhook }))),
  ];
}

/** Live runs (issue 14): list queries, event-stream resume ids, Prefer: wait, cancel of no run. */
function liveRuns(): Case[] {
  const get = (label: string, path: string, headers: Record<string, string> = {}): Case => ({
    group: 'live runs', label, method: 'GET', path, headers: { 'x-api-key': KEY, ...headers },
  });
  const cursors = ['garbage', '%00%ff', 'eyJ2IjoxfQ', Buffer.from('{"v":1,"before":"../../etc/passwd"}').toString('base64url'),
    Buffer.from('{"v":2,"before":"r_1767225600000_0000k3x9qa"}').toString('base64url'), 'A'.repeat(20_000), '{"before":"x"}'];
  const limits = ['-1', '0', '1e9', '501', '1000000000000000000000', 'abc', '2.5', '', ' 5', '0x10'];
  const seqs = ['abc', '-1', '1.5', '1e3', '9'.repeat(40), 'null', '0x1'];
  const prefers = ['wait=abc', 'wait=-1', 'wait=1.5', 'wait=', 'wait', `wait=${'9'.repeat(5000)}x`, 'wait="soon"'];
  const ids = ['r_1767225600000_0000k3x9qa', 'nope', '..%2F..%2Fetc%2Fpasswd', `r_${'9'.repeat(300)}`, '%00'];
  return [
    ...cursors.map((c) => get(`GET /jobs cursor ${c.slice(0, 30)}`, `/jobs?cursor=${encodeURIComponent(c)}`)),
    ...limits.map((l) => get(`GET /jobs limit=${l}`, `/jobs?limit=${encodeURIComponent(l)}`)),
    get('GET /jobs status=done', '/jobs?status=done'),
    get('GET /jobs one good and one bad parameter', '/jobs?status=queued&limit=bogus'),
    ...seqs.map((q) => get(`events Last-Event-ID ${q.slice(0, 20)}`, `/jobs/${RUN}/events`, { 'last-event-id': q })),
    ...[...seqs, '١٢'].map((q) => get(`events ?after=${q.slice(0, 20)}`, `/jobs/${RUN}/events?after=${encodeURIComponent(q)}`)),
    ...ids.map((id) => get(`events of no run ${id.slice(0, 30)}`, `/jobs/${id}/events`)),
    ...prefers.map((p): Case => ({ group: 'live runs', label: `start with Prefer ${p.slice(0, 30)}`, method: 'POST', path: `/jobs/${RUN}/start`, headers: { 'x-api-key': KEY, prefer: p } })),
    ...prefers.map((p) => jobCase('live runs', `create+start with Prefer ${p.slice(0, 30)}`, JSON.stringify({ ...baseJob(), start: true }), { ...JSON_KEY, prefer: p })),
    jobCase('live runs', 'huge Prefer with an invalid job', JSON.stringify({ ...baseJob(), start: 'yes' }), { ...JSON_KEY, prefer: 'wait=999999999999' }),
    ...ids.map((id): Case => ({ group: 'live runs', label: `cancel of no run ${id.slice(0, 30)}`, method: 'POST', path: `/jobs/${id}/cancel`, headers: { 'x-api-key': KEY } })),
    { group: 'live runs', label: 'cancel without a key', method: 'POST', path: `/jobs/${RUN}/cancel` },
    { group: 'live runs', label: 'events without a key', method: 'GET', path: `/jobs/${RUN}/events` },
  ];
}

/** The corpus proper (every case through the VIDAX handlers). */
export function corpus(maxBodyBytes: number): Case[] {
  return [...malformed(), ...wrongTypes(), ...deepAndHuge(), ...overLimit(maxBodyBytes), ...unicode(), ...contentTypes(), ...traversal(), ...wrongMethods(), ...keys(), ...webhooks(), ...liveRuns()];
}
