// Replays the recordings of a real ComfyUI 0.3.64 (shared/fixtures/comfyui-transcripts, files 01-19, one server
// session) against ONE fresh simulator, in order: status codes, content types, JSON key sets (recursively, with
// value types), POST /prompt numbers, and the WebSocket message sequence (types, queue counts, executing nodes,
// cached nodes, progress_state node states).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openWs, type RunningSimulator, COMFYUI_FIXTURES, startSimulator, type WsCollector } from '../support/simulator.ts';

const DIR = join(COMFYUI_FIXTURES, 'transcripts');
const FILES = readdirSync(DIR).filter((f) => /^\d\d-.*\.json$/.test(f) && !f.startsWith('00')).sort();
const LOOSE_ARRAYS = new Set(['argv', 'traceback']);

// biome-ignore lint/suspicious/noExplicitAny: recorded JSON
type Json = any;

/** Recorded ids and file names → the simulator's (learned from responses and messages). */
const ids = new Map<string, string>();
const mapStr = (s: string) => ids.get(s) ?? s;
const rewrite = (s: string) => [...ids].reduce((acc, [a, b]) => acc.replaceAll(a, b), s);
const deepRewrite = (v: Json): Json =>
  typeof v === 'string' ? mapStr(v) : Array.isArray(v) ? v.map(deepRewrite) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [mapStr(k), deepRewrite(x)])) : v;

function sameShape(rec: Json, got: Json, where: string, key = ''): void {
  const kind = (v: Json) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  assert.equal(kind(got), kind(rec), `${where}: type of ${JSON.stringify(got)?.slice(0, 80)}`);
  if (key === 'filename' && typeof rec === 'string' && !ids.has(rec)) ids.set(rec, got);
  if (Array.isArray(rec)) {
    if (LOOSE_ARRAYS.has(key)) return;
    assert.equal(got.length, rec.length, `${where}: array length`);
    for (const [i, r] of rec.entries()) sameShape(r, got[i], `${where}[${i}]`, key);
  } else if (rec && typeof rec === 'object') {
    const want = Object.keys(rec).map(mapStr).sort();
    assert.deepEqual(Object.keys(got).sort(), want, `${where}: keys`);
    for (const [k, v] of Object.entries(rec)) sameShape(v, got[mapStr(k)], `${where}.${k}`, k);
  }
}

function compareWs(rec: Json, got: Json, where: string): void {
  assert.ok(got, `${where}: missing message ${rec.type}`);
  assert.equal(got.type, rec.type, `${where}: message type`);
  const [r, g] = [rec.data, got.data];
  if (rec.type === 'status') assert.equal(g.status.exec_info.queue_remaining, r.status.exec_info.queue_remaining, `${where}: queue_remaining`);
  if (rec.type === 'executing' || rec.type === 'executed') assert.equal(g.node, r.node, `${where}: node`);
  if (rec.type === 'execution_cached') assert.deepEqual(g.nodes, r.nodes, `${where}: cached nodes`);
  if (rec.type === 'execution_interrupted' || rec.type === 'execution_error') assert.equal(g.node_id, r.node_id, `${where}: node_id`);
  if (rec.type === 'progress_state') {
    const states = (d: Json) => Object.fromEntries(Object.entries(d.nodes).map(([id, n]: [string, Json]) => [id, n.state]));
    assert.deepEqual(states(g), states(r), `${where}: node states`);
  }
  if ('prompt_id' in r && r.prompt_id) assert.equal(g.prompt_id, mapStr(r.prompt_id), `${where}: prompt_id`);
  sameShape(r, g, `${where}.data`);
}

async function replayHttp(sim: RunningSimulator, ev: Json, where: string): Promise<void> {
  const { request: rq, response: rs } = ev;
  const body = 'body_json' in rq ? JSON.stringify(deepRewrite(rq.body_json)) : rq.body_text;
  const res = await fetch(sim.url + rewrite(rq.path), { method: rq.method, headers: rq.headers ?? {}, ...(body === undefined ? {} : { body }) });
  const buf = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, rs.status, `${where}: status`);
  assert.equal(res.headers.get('content-type'), rs.headers['Content-Type'], `${where}: content-type`);
  if ('body_json' in rs) {
    const got = JSON.parse(buf.toString('utf8'));
    if (rq.path === '/prompt' && res.status === 200) {
      ids.set(rs.body_json.prompt_id, got.prompt_id);
      assert.equal(got.number, rs.body_json.number, `${where}: number carries over the session`);
    }
    sameShape(rs.body_json, got, `${where}.body`);
  } else if ('body_text' in rs) {
    assert.equal(buf.toString('utf8'), rs.body_text, `${where}: body`);
  } else {
    assert.equal(buf.length === 0, rs.body_length === 0, `${where}: body emptiness`);
    if (rs.headers['Content-Type'] === 'image/png') assert.equal(buf.subarray(1, 4).toString(), 'PNG', `${where}: a PNG`);
  }
}

describe('simulator conformance with the recorded ComfyUI 0.3.64 session', () => {
  let sim: RunningSimulator;
  before(async () => {
    sim = await startSimulator();
  });
  after(() => sim?.stop());

  for (const file of FILES) {
    it(`replays ${file}`, async () => {
      const t = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
      let ws: WsCollector | null = null;
      let seen = 0;
      try {
        for (const [i, ev] of t.timeline.entries()) {
          const where = `${file} #${i}`;
          if (ev.kind === 'ws_connect') {
            ws = await openWs(sim.url, ev.path);
            seen = 0;
          } else if (ev.kind === 'ws_message') {
            assert.ok(ws, `${where}: no socket`);
            const got = await ws.waitCount(seen + 1);
            compareWs(ev.data, got[seen], where);
            seen++;
          } else if (ev.kind === 'ws_closed_by_client' && ws) {
            await new Promise((r) => setTimeout(r, 50)); // nothing more may arrive
            assert.deepEqual(ws.messages.slice(seen).map((m) => m.type), [], `${where}: unexpected extra messages`);
            await ws.close();
            ws = null;
          } else if (ev.kind === 'http') {
            await replayHttp(sim, ev, `${where} ${ev.request.method} ${ev.request.path}`);
          }
        }
      } finally {
        await ws?.close();
      }
    });
  }
});
