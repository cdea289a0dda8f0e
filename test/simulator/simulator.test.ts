import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inflateSync } from 'node:zlib';
import { openWs, type RunningSimulator, COMFYUI_FIXTURES, spawnSimulator, startSimulator, type WsCollector, type WsMessage } from '../support/simulator.ts';

const FIX = join(COMFYUI_FIXTURES, 'workflows');
const single = () => JSON.parse(readFileSync(join(FIX, 'workflow-single.json'), 'utf8'));
const batch = () => JSON.parse(readFileSync(join(FIX, 'workflow-batch.json'), 'utf8'));
// biome-ignore lint/suspicious/noExplicitAny: server JSON in tests
type Json = any;

const empty = (w = 8, h = 8, n = 1, color = 0) => ({ class_type: 'EmptyImage', inputs: { width: w, height: h, batch_size: n, color } });
const slowGraph = (prefix: string, steps = 5, stepMs = 30) => ({
  '1': empty(8, 8, 1, Math.floor(Math.random() * 0xffffff)), // never cached
  '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps, step_ms: stepMs } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: prefix } },
});

async function call(sim: RunningSimulator, path: string, body?: unknown, init: RequestInit = {}) {
  const res = await fetch(sim.url + path, body === undefined ? init : { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

/** Submits with the socket's client id and waits for `executing {node:null}` of that prompt. */
async function run(sim: RunningSimulator, ws: WsCollector, cid: string, prompt: unknown, extra: Record<string, unknown> = {}) {
  const r = await call(sim, '/prompt', { prompt, client_id: cid, ...extra });
  assert.equal(r.status, 200, r.text);
  const pid: string = r.json.prompt_id;
  await ws.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === pid);
  const mine = ws.messages.filter((m) => m.data?.prompt_id === pid || m.type === 'status');
  return { pid, number: r.json.number, messages: mine };
}

function pngPixel(buf: Buffer): { w: number; h: number; rgb: number[] } {
  assert.equal(buf.subarray(1, 4).toString(), 'PNG');
  let off = 8;
  const idat: Buffer[] = [];
  let w = 0;
  let h = 0;
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.subarray(off + 4, off + 8).toString();
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') [w, h] = [data.readUInt32BE(0), data.readUInt32BE(4)];
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  return { w, h, rgb: [raw[1]!, raw[2]!, raw[3]!] };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('simulator: routes, runs, queue (one shared process)', () => {
  let sim: RunningSimulator;
  let ws: WsCollector;
  const cid = `test-${randomUUID()}`;
  before(async () => {
    sim = await startSimulator({ args: ['--cpu', '--max-upload-size', '0.05', '--front-end-root', '/nonexistent'] });
    ws = await openWs(sim.url, `/ws?clientId=${cid}`);
  });
  after(async () => {
    await ws?.close();
    await sim?.stop();
  });

  it('answers every route under /x and /api/x with the real shapes', async () => {
    for (const prefix of ['', '/api']) {
      const stats = await call(sim, `${prefix}/system_stats`);
      assert.equal(stats.status, 200);
      assert.equal(stats.json.system.comfyui_version, '0.3.64');
      assert.equal(stats.json.devices[0].type, 'cpu');
      assert.match(stats.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(Object.keys((await call(sim, `${prefix}/features`)).json).sort(), ['max_upload_size', 'supports_preview_metadata']);
      assert.deepEqual((await call(sim, `${prefix}/prompt`)).json, { exec_info: { queue_remaining: 0 } });
      assert.deepEqual((await call(sim, `${prefix}/queue`)).json, { queue_running: [], queue_pending: [] });
      assert.deepEqual((await call(sim, `${prefix}/history/${randomUUID()}`)).json, {});
      const info = await call(sim, `${prefix}/object_info/VidaxSlowSteps`);
      assert.deepEqual(info.json.VidaxSlowSteps.input_order.required, ['images', 'steps', 'step_ms']);
      assert.deepEqual((await call(sim, `${prefix}/object_info/NoSuchNode`)).json, {});
    }
    const all = await call(sim, '/object_info');
    for (const n of ['EmptyImage', 'SaveImage', 'PreviewImage', 'ImageInvert', 'ImageBlur', 'RepeatImageBatch', 'VidaxSlowSteps', 'CreateVideo', 'SaveVideo']) assert.ok(all.json[n], n);
    assert.equal((await call(sim, '/nope')).status, 404);
    assert.equal((await call(sim, '/queue', undefined, { method: 'PUT' })).status, 405);
    const free = await call(sim, '/free', { unload_models: true, free_memory: false });
    assert.deepEqual([free.status, free.text], [200, '']);
  });

  it('runs workflow-single with the exact WebSocket order of a real server; other sockets see only status', async () => {
    const other = await openWs(sim.url, '/ws');
    try {
      assert.equal(other.messages[0]?.type ?? (await other.waitCount(1))[0]!.type, 'status');
      assert.match((await other.waitCount(1))[0]!.data.sid, /^[0-9a-f]{32}$/);
      const from = ws.messages.length;
      const { pid } = await run(sim, ws, cid, single());
      const seq = ws.messages.slice(from).map((m) => (m.type === 'progress_state' ? `ps:${Object.entries(m.data.nodes).map(([k, v]: [string, Json]) => `${k}=${v.state}`).join(',')}` : m.type === 'status' ? `status:${m.data.status.exec_info.queue_remaining}` : m.type === 'executing' ? `executing:${m.data.node}` : m.type));
      assert.deepEqual(seq, [
        'status:1', 'status:1', 'execution_start', 'execution_cached', 'ps:1=running', 'executing:1', 'ps:1=finished',
        'ps:1=finished,2=running', 'executing:2', 'executed', 'ps:1=finished,2=finished', 'execution_success', 'status:0', 'executing:null',
      ]);
      const executed = ws.messages.slice(from).find((m) => m.type === 'executed')!;
      assert.deepEqual(executed.data.output, { images: [{ filename: 'fixture_single_00001_.png', subfolder: '', type: 'output' }] });
      // history is written before executing {node:null}
      const h = await call(sim, `/history/${pid}`);
      assert.equal(h.json[pid].status.status_str, 'success');
      assert.deepEqual(Object.keys(h.json[pid]), ['prompt', 'outputs', 'status', 'meta']);
      assert.deepEqual(h.json[pid].prompt[3], { client_id: cid });
      const png = pngPixel(readFileSync(join(sim.outputDir, 'fixture_single_00001_.png')));
      assert.deepEqual(png, { w: 64, h: 64, rgb: [255, 0, 0] });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual([...new Set(other.messages.map((m) => m.type))], ['status']);
      const view = await fetch(`${sim.url}/view?filename=fixture_single_00001_.png&subfolder=&type=output`);
      assert.equal(view.headers.get('content-type'), 'image/png');
      assert.equal(view.headers.get('content-disposition'), 'filename="fixture_single_00001_.png"');
      assert.deepEqual(Buffer.from(await view.arrayBuffer()), readFileSync(join(sim.outputDir, 'fixture_single_00001_.png')));
    } finally {
      await other.close();
    }
  });

  it('saves the batch fixture as 4 files in one executed; an identical re-run is fully cached and writes nothing', async () => {
    const first = await run(sim, ws, cid, batch());
    const names: string[] = first.messages.find((m) => m.type === 'executed')!.data.output.images.map((i: Json) => i.filename);
    assert.deepEqual(names, [1, 2, 3, 4].map((n) => `fixture_batch_0000${n}_.png`));
    assert.deepEqual(pngPixel(readFileSync(join(sim.outputDir, names[3]!))), { w: 64, h: 48, rgb: [0, 0, 255] });
    const again = await run(sim, ws, cid, batch());
    assert.deepEqual(again.messages.filter((m) => m.type !== 'status').map((m) => m.type), ['execution_start', 'execution_cached', 'executed', 'progress_state', 'execution_success', 'executing']);
    assert.deepEqual(again.messages.find((m) => m.type === 'execution_cached')!.data.nodes, ['1', '2']);
    assert.deepEqual(again.messages.find((m) => m.type === 'executed')!.data.output.images.map((i: Json) => i.filename), names);
    assert.equal(readdirSync(sim.outputDir).filter((f) => f.startsWith('fixture_batch')).length, 4);
    const h = await call(sim, `/history/${again.pid}`);
    assert.deepEqual(h.json[again.pid].outputs['2'].images.map((i: Json) => i.filename), names);
    // POST /free {free_memory} drops the cache: the next identical run really executes
    await call(sim, '/free', { free_memory: true });
    const third = await run(sim, ws, cid, batch());
    assert.deepEqual(third.messages.find((m) => m.type === 'execution_cached')!.data.nodes, []);
    assert.equal(third.messages.find((m) => m.type === 'executed')!.data.output.images[0].filename, 'fixture_batch_00005_.png');
  });

  it('numbers files after the highest existing counter and maps "/" in the prefix to a subfolder', async () => {
    writeFileSync(join(sim.outputDir, 'gap_00041_.png'), 'x');
    const a = await run(sim, ws, cid, { '1': empty(), '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'gap' } } });
    assert.equal(a.messages.find((m) => m.type === 'executed')!.data.output.images[0].filename, 'gap_00042_.png');
    const b = await run(sim, ws, cid, { '1': empty(4, 4, 1, 7), '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'sub/dir/pic' } } });
    const img = b.messages.find((m) => m.type === 'executed')!.data.output.images[0];
    assert.deepEqual(img, { filename: 'pic_00001_.png', subfolder: 'sub/dir', type: 'output' });
    assert.equal((await fetch(`${sim.url}/view?filename=pic_00001_.png&subfolder=sub/dir`)).status, 200);
  });

  it('runs the rest of the node set: PreviewImage (temp), ImageInvert, ImageBlur, RepeatImageBatch, CreateVideo + SaveVideo', async () => {
    const p = await run(sim, ws, cid, {
      '1': empty(4, 2, 1, 0x00ff00),
      '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
      '3': { class_type: 'ImageBlur', inputs: { image: ['2', 0], blur_radius: 1, sigma: 1.0 } },
      '4': { class_type: 'RepeatImageBatch', inputs: { image: ['3', 0], amount: 3 } },
      '5': { class_type: 'PreviewImage', inputs: { images: ['4', 0] } },
      '6': { class_type: 'CreateVideo', inputs: { images: ['4', 0], fps: 12 } },
      '7': { class_type: 'SaveVideo', inputs: { video: ['6', 0], filename_prefix: 'video/clip', format: 'auto', codec: 'auto' } },
    });
    const out = (await call(sim, `/history/${p.pid}`)).json[p.pid].outputs;
    assert.equal(out['5'].images.length, 3);
    assert.match(out['5'].images[0].filename, /^ComfyUI_temp_[a-z]{5}_00001_\.png$/);
    assert.equal(out['5'].images[0].type, 'temp');
    const prev = await fetch(`${sim.url}/view?filename=${out['5'].images[2].filename}&type=temp`);
    assert.deepEqual(pngPixel(Buffer.from(await prev.arrayBuffer())).rgb, [255, 0, 255]);
    assert.deepEqual(out['7'], { images: [{ filename: 'clip_00001_.mp4', subfolder: 'video', type: 'output' }], animated: [true] });
    const mp4 = readFileSync(join(sim.outputDir, 'video', 'clip_00001_.mp4'));
    assert.equal(mp4.subarray(4, 8).toString(), 'ftyp');
    assert.equal((await fetch(`${sim.url}/view?filename=clip_00001_.mp4&subfolder=video`)).headers.get('content-type'), 'video/mp4');
  });

  it('sends messages longer than 65535 bytes (64-bit frame length) that undici reads whole', async () => {
    const r = await run(sim, ws, cid, { '1': empty(1, 1, 1500, 9), '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'many/x' } } });
    const executed = r.messages.find((m) => m.type === 'executed')!;
    assert.equal(executed.data.output.images.length, 1500);
    assert.ok(JSON.stringify(executed).length > 65535);
  });

  it('rejects bad prompts with the real 400 shapes; the number counter counts failed POSTs too', async () => {
    const n0 = (await call(sim, '/prompt', { prompt: { '1': empty(), '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'n' } } } })).json.number;
    const bad = async (body: unknown) => (await call(sim, '/prompt', body)).json;
    assert.deepEqual(await bad({ client_id: 'x' }), { error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} });
    assert.equal((await bad({ prompt: { '1': { class_type: 'NoSuchNode', inputs: {} } } })).error.type, 'invalid_prompt');
    assert.equal((await bad({ prompt: { '1': { inputs: {} } } })).error.message, 'Cannot execute because a node is missing the class_type property.');
    assert.equal((await bad({ prompt: { '1': empty() } })).error.type, 'prompt_no_outputs');
    const missing = await bad({ prompt: { '2': { class_type: 'SaveImage', inputs: { filename_prefix: 'x' } } } });
    assert.equal(missing.error.details, 'Required input is missing: images');
    assert.equal(missing.node_errors['2'].errors[0].type, 'required_input_missing');
    const small = await bad({ prompt: { '1': empty(0), '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'x' } } } });
    assert.deepEqual(small.node_errors['1'].errors[0], { type: 'value_smaller_than_min', message: 'Value 0 smaller than min of 1', details: 'width', extra_info: { input_name: 'width', input_config: ['INT', { default: 512, min: 1, max: 16384, step: 1 }], received_value: 0 } });
    assert.deepEqual(small.node_errors['1'].dependent_outputs, ['2']);
    assert.equal(small.error.details, '');
    const link = await bad({ prompt: { '2': { class_type: 'SaveImage', inputs: { images: ['99', 0], filename_prefix: 'x' } } } });
    assert.equal(link.node_errors['2'].errors[0].type, 'exception_during_validation');
    assert.equal(link.error.details, "Exception when validating node: '99'");
    const cycle = await bad({ prompt: { '1': { class_type: 'ImageInvert', inputs: { image: ['2', 0] } }, '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } }, '3': { class_type: 'PreviewImage', inputs: { images: ['2', 0] } } } });
    assert.equal(cycle.error.type, 'prompt_outputs_failed_validation');
    assert.ok(JSON.stringify(cycle.node_errors).includes('dependency_cycle'));
    const notJson = await call(sim, '/prompt', 'this is not json');
    assert.deepEqual([notJson.status, notJson.text, notJson.headers.get('content-type')], [500, '500 Internal Server Error\n\nServer got itself in trouble', 'text/plain; charset=utf-8']);
    const big = await call(sim, '/prompt', { prompt: {}, pad: 'x'.repeat(60_000) });
    assert.equal(big.status, 413);
    assert.match(big.text, /^Maximum request body size 52429 exceeded/);
    const pid = `my-own-id-${randomUUID()}`; // 0.3.64 accepts any string
    const mine = await call(sim, '/prompt', { prompt: { '1': empty(), '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'n' } } }, prompt_id: pid });
    assert.equal(mine.json.prompt_id, pid);
    assert.equal(mine.json.number, n0 + 9); // 8 failed JSON POSTs in between consumed numbers; the non-JSON one did not
  });

  it('runs one prompt at a time in priority order (front first), with the raw heap in GET /queue', async () => {
    const slow = await call(sim, '/prompt', { prompt: slowGraph('q-slow', 10, 40), client_id: cid });
    await ws.waitFor((m) => m.type === 'executing' && m.data.node === '2' && m.data.prompt_id === slow.json.prompt_id);
    const a = await call(sim, '/prompt', { prompt: slowGraph('q-a', 1, 0), client_id: cid });
    const b = await call(sim, '/prompt', { prompt: slowGraph('q-b', 1, 0), client_id: cid, front: true });
    const c = await call(sim, '/prompt', { prompt: slowGraph('q-c', 1, 0), client_id: cid });
    assert.equal(b.json.number, -(a.json.number + 1));
    const q = (await call(sim, '/queue')).json;
    assert.equal(q.queue_running.length, 1);
    assert.equal(q.queue_running[0][1], slow.json.prompt_id);
    assert.deepEqual(q.queue_pending.map((i: Json) => i[1]), [b.json.prompt_id, a.json.prompt_id, c.json.prompt_id]);
    assert.deepEqual((await call(sim, '/prompt')).json, { exec_info: { queue_remaining: 4 } });
    assert.equal((await call(sim, '/queue', { delete: [c.json.prompt_id] })).text, '');
    await ws.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === a.json.prompt_id);
    const starts = ws.messages.filter((m) => m.type === 'execution_start').map((m) => m.data.prompt_id);
    assert.deepEqual(starts.slice(-3), [slow.json.prompt_id, b.json.prompt_id, a.json.prompt_id]);
    assert.deepEqual((await call(sim, `/history/${c.json.prompt_id}`)).json, {});
    // never two at once: each execution_start comes after the previous executing {node:null}
    const order = ws.messages.filter((m) => m.type === 'execution_start' || (m.type === 'executing' && m.data.node === null)).map((m) => m.type);
    for (let i = 1; i < order.length; i++) assert.notEqual(order[i], order[i - 1]);
  });

  it('interrupts by prompt_id at the next slow step (not another id); progress is reported per step', async () => {
    const r = await call(sim, '/prompt', { prompt: slowGraph('int', 200, 20), client_id: cid });
    const pid = r.json.prompt_id;
    await ws.waitFor((m) => m.type === 'progress' && m.data.prompt_id === pid && m.data.value === 2);
    assert.equal((await call(sim, '/interrupt', { prompt_id: randomUUID() })).status, 200);
    await ws.waitFor((m) => m.type === 'progress' && m.data.prompt_id === pid && m.data.value === 4);
    const res = await call(sim, '/interrupt', { prompt_id: pid });
    assert.deepEqual([res.status, res.text], [200, '']);
    const msg = await ws.waitFor((m) => m.type === 'execution_interrupted' && m.data.prompt_id === pid);
    assert.equal(msg.data.node_id, '2');
    assert.deepEqual(msg.data.executed, ['1']);
    await ws.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === pid);
    const progress = ws.messages.filter((m) => m.type === 'progress' && m.data.prompt_id === pid);
    assert.deepEqual(progress[0]!.data, { value: 1, max: 200, prompt_id: pid, node: '2' });
    assert.ok(progress.length < 200);
    const h = (await call(sim, `/history/${pid}`)).json[pid];
    assert.deepEqual([h.status.status_str, h.status.completed, h.status.messages.at(-1)[0]], ['error', false, 'execution_interrupted']);
    // no body: stops whatever runs; without client_id, progress and the interrupt are broadcast, executing is not
    const anon = await call(sim, '/prompt', { prompt: slowGraph('int2', 200, 20) });
    await ws.waitFor((m) => m.type === 'progress' && m.data.prompt_id === anon.json.prompt_id);
    await fetch(`${sim.url}/interrupt`, { method: 'POST' });
    await ws.waitFor((m) => m.type === 'execution_interrupted' && m.data.prompt_id === anon.json.prompt_id);
    assert.ok(!ws.messages.some((m) => m.type === 'executing' && m.data.prompt_id === anon.json.prompt_id));
  });

  it('tells a socket reconnecting mid-run with the same clientId the running node (no prompt_id), then targets it', async () => {
    const first = await openWs(sim.url, '/ws?clientId=re');
    const second = await (async () => {
      const r = await call(sim, '/prompt', { prompt: slowGraph('re', 15, 20), client_id: 're' });
      await first.waitFor((m) => m.type === 'progress' && m.data.prompt_id === r.json.prompt_id);
      const again = await openWs(sim.url, '/ws?clientId=re');
      assert.deepEqual((await again.waitCount(2)).slice(0, 2).map((m) => m.data), [{ status: { exec_info: { queue_remaining: 1 } }, sid: 're' }, { node: '2' }]);
      await again.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === r.json.prompt_id);
      return again;
    })();
    assert.ok(!first.messages.some((m) => m.type === 'executing' && m.data.node === null));
    await second.close();
    await first.close();
  });

  it('fails a run whose SaveImage prefix escapes the output folder (execution_error, history error)', async () => {
    const r = await run(sim, ws, cid, { '1': empty(), '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: '../../escape' } } });
    const err = r.messages.find((m) => m.type === 'execution_error')!;
    assert.equal(err.data.node_type, 'SaveImage');
    assert.match(err.data.exception_message, /Saving image outside the output folder is not allowed/);
    assert.deepEqual(Object.keys(err.data.current_inputs).sort(), ['extra_pnginfo', 'filename_prefix', 'images', 'prompt']);
    const h = (await call(sim, `/history/${r.pid}`)).json[r.pid];
    assert.deepEqual([h.status.status_str, h.outputs], ['error', {}]);
  });

  it('uploads multipart images: same bytes keep the name, other bytes get "(1)"; bad paths are 400', async () => {
    const up = async (bytes: string, name: string, fields: Record<string, string> = {}) => {
      const form = new FormData();
      form.append('image', new Blob([bytes], { type: 'image/png' }), name);
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      const res = await fetch(`${sim.url}/upload/image`, { method: 'POST', body: form });
      return { status: res.status, json: res.status === 200 ? await res.json() : await res.text() };
    };
    assert.deepEqual(await up('aaa', 'in.png'), { status: 200, json: { name: 'in.png', subfolder: '', type: 'input' } });
    assert.deepEqual((await up('aaa', 'in.png')).json.name, 'in.png');
    assert.deepEqual((await up('bbb', 'in.png')).json.name, 'in (1).png');
    assert.deepEqual((await up('ccc', 'in.png', { overwrite: 'true' })).json.name, 'in.png');
    assert.equal(readFileSync(join(sim.inputDir, 'in.png'), 'utf8'), 'ccc');
    assert.deepEqual((await up('ddd', 'o.png', { type: 'temp', subfolder: 'a/b' })).json, { name: 'o.png', subfolder: 'a/b', type: 'temp' });
    assert.ok(existsSync(join(sim.tempDir, 'a', 'b', 'o.png')));
    assert.equal((await up('x', 'e.png', { subfolder: '../../..' })).status, 400);
    assert.equal((await fetch(`${sim.url}/upload/image`, { method: 'POST', body: new FormData() })).status, 400);
    const v = await fetch(`${sim.url}/view?filename=in (1).png&type=input`);
    assert.equal(await v.text(), 'bbb');
  });

  it('applies the /view rules: 404 missing, 400 traversal or bad type, 403 escaping subfolder, [type] suffix', async () => {
    const st = async (q: string) => (await fetch(`${sim.url}/view${q}`)).status;
    assert.equal(await st('?filename=nope.png'), 404);
    assert.equal(await st(''), 404);
    assert.equal(await st('?filename=../../etc/passwd'), 400);
    assert.equal(await st('?filename=/etc/passwd'), 400);
    assert.equal(await st('?filename=fixture_single_00001_.png&type=bogus'), 400);
    assert.equal(await st('?filename=fixture_single_00001_.png&subfolder=../..'), 403);
    assert.equal(await st('?filename=in.png [input]&type=output'), 200);
  });

  it('clears history and queue on request', async () => {
    assert.equal((await call(sim, '/queue', { clear: true })).status, 200);
    const some = Object.keys((await call(sim, '/history?max_items=2')).json);
    assert.equal(some.length, 2);
    assert.equal((await call(sim, '/history', { delete: [some[0]] })).status, 200);
    assert.deepEqual((await call(sim, `/history/${some[0]}`)).json, {});
    await call(sim, '/history', { clear: true });
    assert.deepEqual((await call(sim, '/history')).json, {});
    assert.equal((await call(sim, '/history', 'nope')).status, 500);
  });
});

describe('simulator: versions, caching switch, WebSocket protocol', () => {
  it('emulates a newer version: UUID-only prompt_id, missing_node_type, create_time, linux', async () => {
    const sim = await startSimulator({ args: ['--version-string', '0.33.0'] });
    try {
      const stats = (await call(sim, '/api/system_stats')).json;
      assert.equal(stats.system.comfyui_version, '0.33.0');
      const ok = { '1': empty(), '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'v' } } };
      const bad = await call(sim, '/prompt', { prompt: ok, prompt_id: 'not-a-uuid' });
      assert.deepEqual([bad.status, bad.json.error.type], [400, 'invalid_prompt_id']);
      const upper = await call(sim, '/prompt', { prompt: ok, prompt_id: randomUUID().toUpperCase() });
      assert.equal(upper.json.error.type, 'invalid_prompt_id');
      const id = randomUUID();
      assert.equal((await call(sim, '/prompt', { prompt: ok, prompt_id: id })).json.prompt_id, id);
      const missing = await call(sim, '/prompt', { prompt: { '1': { class_type: 'Nope', inputs: {} } } });
      assert.deepEqual(missing.json.error.extra_info, { node_id: '1', class_type: 'Nope', node_title: 'Nope' });
      assert.equal(missing.json.error.type, 'missing_node_type');
      const q = (await call(sim, '/queue')).json;
      const history: Record<string, Json> = (await call(sim, '/history')).json;
      const item = [...q.queue_running, ...q.queue_pending][0] ?? Object.values(history)[0].prompt;
      assert.equal(typeof item[3].create_time, 'number');
    } finally {
      await sim.stop();
    }
  });

  it('--cache-none re-runs an identical graph and writes new files', async () => {
    const sim = await startSimulator({ args: ['--cache-none'] });
    const ws = await openWs(sim.url, '/ws?clientId=nc');
    try {
      await run(sim, ws, 'nc', single());
      const second = await run(sim, ws, 'nc', single());
      assert.deepEqual(second.messages.find((m) => m.type === 'execution_cached')!.data.nodes, []);
      assert.equal(second.messages.find((m) => m.type === 'executed')!.data.output.images[0].filename, 'fixture_single_00002_.png');
    } finally {
      await ws.close();
      await sim.stop();
    }
  });

  it('speaks RFC 6455 to a raw socket: accept key, ping/pong, feature_flags reply, close', async () => {
    const sim = await startSimulator();
    const sock = connect(sim.port, '127.0.0.1');
    try {
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
      const until = async (pred: () => boolean) => {
        for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
        assert.ok(pred(), `got ${buf.toString('latin1')}`);
      };
      const mask = (op: number, payload: Buffer) => {
        const m = Buffer.from([1, 2, 3, 4]);
        const body = Buffer.from(payload.map((b, i) => b ^ m[i & 3]!));
        return Buffer.concat([Buffer.from([0x80 | op, 0x80 | payload.length]), m, body]);
      };
      sock.write('GET /api/ws?clientId=raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      await until(() => buf.includes('"sid": "raw"') || buf.includes('"sid":"raw"'));
      assert.match(buf.toString('latin1'), /^HTTP\/1\.1 101 .*\r\n[\s\S]*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
      buf = Buffer.alloc(0);
      sock.write(mask(9, Buffer.from('hi')));
      await until(() => buf.length >= 4);
      assert.deepEqual([...buf.subarray(0, 4)], [0x8a, 2, 0x68, 0x69]);
      buf = Buffer.alloc(0);
      sock.write(mask(1, Buffer.from(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }))));
      await until(() => buf.includes('max_upload_size'));
      assert.equal(JSON.parse(buf.subarray(2).toString()).type, 'feature_flags');
      buf = Buffer.alloc(0);
      sock.write(mask(8, Buffer.from([0x03, 0xe8])));
      await until(() => buf.length >= 4);
      assert.deepEqual([...buf.subarray(0, 4)], [0x88, 2, 0x03, 0xe8]);
    } finally {
      sock.destroy();
      await sim.stop();
    }
  });
});

describe('simulator: process behaviour and fault switches', () => {
  const exitOf = async (s: ReturnType<typeof spawnSimulator>, ms = 10_000) => {
    const t = setTimeout(() => s.child.kill('SIGKILL'), ms);
    const r = await s.exited;
    clearTimeout(t);
    return r;
  };

  it('exits 0 promptly on SIGTERM and on SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const sim = await startSimulator();
      sim.child.kill(signal);
      const [code] = await new Promise<[number | null]>((r) => sim.child.once('exit', (c) => r([c])));
      assert.equal(code, 0, signal);
      await sim.stop();
    }
  });

  it('--exit-at-start CODE and SIM_EXIT_AT_START print an error and exit with that code, the flag winning', async () => {
    const a = spawnSimulator(0, ['--exit-at-start', '3'], { SIM_EXIT_AT_START: '4' });
    assert.equal((await exitOf(a)).code, 3);
    assert.match(a.output(), /simulated startup failure/);
    assert.doesNotMatch(a.output(), /To see the GUI/);
    const b = spawnSimulator(0, [], { SIM_EXIT_AT_START: '4' });
    assert.equal((await exitOf(b)).code, 4);
  });

  it('--never-ready / SIM_NEVER_READY lives without listening; --startup-delay-ms delays the ready line', async () => {
    for (const [args, env] of [[['--never-ready'], {}], [[], { SIM_NEVER_READY: '1' }]] as const) {
      const port = await freePort();
      const s = spawnSimulator(port, [...args], env);
      await s.waitFor(/custom nodes/);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(s.child.exitCode, null);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/system_stats`));
      s.child.kill('SIGTERM');
      assert.equal((await exitOf(s)).code, 0);
    }
    const t0 = Date.now();
    const d = spawnSimulator(0, ['--startup-delay-ms', '400']);
    await d.waitFor(/To see the GUI go to/);
    assert.ok(Date.now() - t0 >= 400);
    d.child.kill('SIGTERM');
    await exitOf(d);
    const e = await startSimulator({ args: ['--startup-delay-ms', '0'], env: { SIM_STARTUP_DELAY_MS: '600000' } }); // flag wins
    await e.stop();
  });

  it('refuses a port in use with the real message and exit 1', async () => {
    const a = await startSimulator();
    try {
      const b = spawnSimulator(a.port);
      assert.equal((await exitOf(b)).code, 1);
      assert.match(b.output(), new RegExp(`Port ${a.port} is already in use on address 127\\.0\\.0\\.1\\. Please close the other application or use a different port with --port\\.`));
    } finally {
      await a.stop();
    }
  });

  it('--fail-node CLASS / SIM_FAIL_NODE makes that node raise: execution_error and history status error', async () => {
    for (const opts of [{ args: ['--fail-node', 'ImageInvert'] }, { env: { SIM_FAIL_NODE: 'ImageInvert' } }]) {
      const sim = await startSimulator(opts);
      const ws = await openWs(sim.url, '/ws?clientId=f');
      try {
        const r = await run(sim, ws, 'f', { '1': empty(), '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } }, '3': { class_type: 'PreviewImage', inputs: { images: ['2', 0] } } });
        const err = r.messages.find((m: WsMessage) => m.type === 'execution_error')!;
        assert.deepEqual([err.data.node_id, err.data.node_type, err.data.executed], ['2', 'ImageInvert', ['1']]);
        assert.match(err.data.exception_message, /ImageInvert/);
        assert.ok(Array.isArray(err.data.traceback) && err.data.traceback.length > 0);
        const h = (await call(sim, `/history/${r.pid}`)).json[r.pid];
        assert.equal(h.status.status_str, 'error');
        assert.equal(h.status.messages.at(-1)[0], 'execution_error');
      } finally {
        await ws.close();
        await sim.stop();
      }
    }
  });

  it('--crash-after-ms exits 1 while the first prompt runs', async () => {
    const sim = await startSimulator({ args: ['--crash-after-ms', '150'] });
    try {
      await call(sim, '/prompt', { prompt: slowGraph('crash', 500, 20) });
      const code = await new Promise<number | null>((r) => {
        if (sim.child.exitCode !== null) r(sim.child.exitCode);
        sim.child.once('exit', (c) => r(c));
      });
      assert.equal(code, 1);
      assert.match(sim.output(), /Simulated crash/);
    } finally {
      await sim.stop();
    }
  });

  it('--silent-ws accepts sockets but sends nothing; SIM_HANG_HTTP accepts connections but never answers', async () => {
    const silent = await startSimulator({ env: { SIM_SILENT_WS: '1' } });
    const ws = await openWs(silent.url, '/ws?clientId=s');
    try {
      await run(silent, { ...ws, waitFor: async () => ({ type: 'x', data: {} }) }, 's', single());
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(ws.messages, []);
      assert.equal((await call(silent, '/system_stats')).status, 200);
    } finally {
      await ws.close();
      await silent.stop();
    }
    const hang = await startSimulator({ args: ['--hang-http'] });
    try {
      await assert.rejects(fetch(`${hang.url}/system_stats`, { signal: AbortSignal.timeout(400) }), { name: 'TimeoutError' });
      assert.equal(hang.child.exitCode, null);
    } finally {
      await hang.stop();
    }
  });
});
