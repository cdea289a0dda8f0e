// Replays the real ComfyUI answers recorded by test/contract/record.ts (transcripts/contract/,
// each against a fresh server) against a fresh simulator each: status codes, JSON shapes, the
// order of the WebSocket messages a client acts on, and the values VIDAX reads (error and
// interrupt fields, history outputs, upload answers).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodePng, solidFrame } from '../../simulator/png.ts';
import { lipsyncClip, wav } from '../contract/util.ts';
import { until } from '../support/comfyui.ts';
import { COMFYUI_FIXTURES, openWs, startSimulator } from '../support/simulator.ts';

// biome-ignore lint/suspicious/noExplicitAny: recorded JSON
type Json = any;
const DIR = join(COMFYUI_FIXTURES, 'transcripts', 'contract');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
/** The bytes record.ts uploaded, by file name (it keeps only their length). */
const UPLOADS: Record<string, () => Buffer> = { 'in.png': () => encodePng(solidFrame(32, 24, 0x3366cc)), 'in.wav': () => wav(1, 16_000), 'in.mp4': lipsyncClip };
/** Messages whose count depends on timing (queue broadcasts, per-node state snapshots). */
const NOISY = new Set(['status', 'progress_state']);
const LOOSE = new Set(['traceback', 'argv', 'current_inputs', 'current_outputs']);

function sameShape(rec: Json, got: Json, where: string, key = ''): void {
  const kind = (v: Json) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  assert.equal(kind(got), kind(rec), `${where}: type of ${JSON.stringify(got)?.slice(0, 120)}`);
  if (LOOSE.has(key)) return;
  if (Array.isArray(rec)) {
    assert.equal(got.length, rec.length, `${where}: array length`);
    for (const [i, r] of rec.entries()) sameShape(r, got[i], `${where}[${i}]`, key);
  } else if (rec && typeof rec === 'object') {
    assert.deepEqual(Object.keys(got).sort(), Object.keys(rec).sort(), `${where}: keys`);
    for (const [k, v] of Object.entries(rec)) sameShape(v, got[k], `${where}.${k}`, k);
  }
}

const acted = (m: Json) => !NOISY.has(m.type);
const sig = (m: Json) => `${m.type}${m.type === 'executing' || m.type === 'executed' ? `:${m.data.node}` : ''}`;

describe('simulator against real ComfyUI recordings of the contract scenarios', () => {
  for (const file of FILES) {
    it(file, async () => {
      const rec = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
      const sim = await startSimulator();
      const connect = rec.timeline.find((e: Json) => e.kind === 'ws_connect');
      const ws = await openWs(sim.url, connect.path);
      try {
        const recorded: Json[] = [];
        for (const ev of rec.timeline) {
          if (ev.kind === 'ws_message') {
            if (acted(ev.data)) recorded.push(ev.data);
            continue;
          }
          if (ev.kind !== 'http') continue;
          // Act when the simulator has reached the point the real server had.
          const want = recorded.map(sig);
          await until(`${file}: ${want.at(-1)} before ${ev.request.method} ${ev.request.path}`, () => ws.messages.filter(acted).length >= want.length, 30_000);
          const { request: rq, response: rs } = ev;
          let body: BodyInit | undefined;
          if (rq.body_json !== undefined) body = JSON.stringify(rq.body_json);
          else if (rq.body_multipart) {
            const form = new FormData();
            const f = rq.body_multipart.image;
            form.append('image', new Blob([new Uint8Array(UPLOADS[f.filename]!())], { type: f.content_type }), f.filename);
            for (const [k, v] of Object.entries(rq.body_multipart)) if (k !== 'image') form.append(k, String(v));
            body = form;
          }
          const res = await fetch(sim.url + rq.path, { method: rq.method, ...(body === undefined ? {} : { body }) });
          const buf = Buffer.from(await res.arrayBuffer());
          const where = `${file}: ${rq.method} ${rq.path}`;
          assert.equal(res.status, rs.status, where);
          if (rs.body_json !== undefined) {
            const got = JSON.parse(buf.toString('utf8'));
            sameShape(rs.body_json, got, where);
            if (/^\/history\//.test(rq.path)) {
              const [r, g] = [Object.values(rs.body_json)[0] as Json, Object.values(got)[0] as Json];
              assert.deepEqual(g.outputs, r.outputs, `${where}: outputs`);
              assert.deepEqual(g.status.messages.map((m: Json) => m[0]), r.status.messages.map((m: Json) => m[0]), `${where}: status messages`);
            }
            if (rq.path === '/upload/image') assert.deepEqual(got, rs.body_json, where);
          } else if (rs.body_length !== undefined) {
            assert.equal(buf.subarray(4, 8).toString('latin1'), Buffer.from(rs.body_head_base64, 'base64').subarray(4, 8).toString('latin1'), `${where}: file type`);
          }
        }
        const got = ws.messages.filter(acted);
        assert.deepEqual(got.map(sig), recorded.map(sig), `${file}: the messages a client acts on, in order`);
        for (const [i, r] of recorded.entries()) {
          const g = got[i]!;
          sameShape(r.data, g.data, `${file}: ws ${r.type}`);
          if (r.type === 'execution_error') {
            for (const k of ['node_id', 'node_type', 'exception_type', 'exception_message']) assert.equal(g.data[k], r.data[k], `${file}: execution_error.${k}`);
          }
          if (r.type === 'execution_interrupted') {
            assert.deepEqual([g.data.node_id, g.data.node_type], [r.data.node_id, r.data.node_type]);
            assert.deepEqual([...g.data.executed].sort(), [...r.data.executed].sort(), `${file}: executed nodes`);
          }
          if (r.type === 'executed') assert.deepEqual(g.data.output, r.data.output, `${file}: executed output`);
        }
      } finally {
        await ws.close();
        await sim.stop();
      }
    });
  }
});
