// Records what a real ComfyUI answers in the places the contract suite found the simulator
// drifting, as transcripts in the format of test/fixtures/comfyui/transcripts (one file per
// scenario, each against a fresh server). `test/simulator/contract-transcripts.test.ts` replays
// them against the simulator.
//   usage: node --import tsx test/contract/record.ts <start script, e.g. ../shared/comfyui/start.sh> [out dir]
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { WebSocket } from 'undici';
import { encodePng, solidFrame } from '../../simulator/png.ts';
import { freePort, until } from '../support/comfyui.ts';
import { COMFYUI_FIXTURES } from '../support/simulator.ts';
import { slowWorkflow, wav } from './scenarios.ts';
import { fixture, lipsyncClip } from './util.ts';

// biome-ignore lint/suspicious/noExplicitAny: recorded JSON
type Json = any;
const OUT = resolve(process.argv[3] ?? join(COMFYUI_FIXTURES, 'transcripts', 'contract'));

class Recorder {
  timeline: Json[] = [];
  private t0 = performance.now();
  private ws: WebSocket | null = null;
  constructor(readonly url: string) {}
  private now = () => Math.round((performance.now() - this.t0) * 10) / 10;

  async connect(clientId: string) {
    const path = `/ws?clientId=${clientId}`;
    this.timeline.push({ kind: 'ws_connect', t_ms: this.now(), path });
    const ws = new WebSocket(this.url.replace(/^http/, 'ws') + path);
    ws.addEventListener('message', (e) => {
      if (typeof e.data !== 'string') return;
      this.timeline.push({ kind: 'ws_message', t_ms: this.now(), frame: 'text', raw: e.data, data: JSON.parse(e.data) });
    });
    await new Promise((r, j) => {
      ws.addEventListener('open', r);
      ws.addEventListener('error', j);
    });
    this.ws = ws;
  }

  async http(method: string, path: string, body?: { json?: unknown; form?: FormData; formDescription?: Json }): Promise<Json> {
    const request: Json = { method, path };
    let init: RequestInit = { method };
    if (body?.json !== undefined) {
      request.headers = { 'Content-Type': 'application/json' };
      request.body_json = body.json;
      init = { ...init, headers: request.headers, body: JSON.stringify(body.json) };
    } else if (body?.form) {
      request.body_multipart = body.formDescription;
      init = { ...init, body: body.form };
    }
    const sent = this.now();
    const res = await fetch(this.url + path, init);
    const buf = Buffer.from(await res.arrayBuffer());
    const response: Json = { status: res.status, reason: res.statusText, headers: Object.fromEntries(res.headers) };
    const type = res.headers.get('content-type') ?? '';
    if (type.startsWith('application/json') || type.startsWith('text/')) {
      response.body_text = buf.toString('utf8');
      try {
        response.body_json = JSON.parse(response.body_text);
      } catch {}
    } else {
      response.body_length = buf.length;
      response.body_head_base64 = buf.subarray(0, 32).toString('base64');
    }
    this.timeline.push({ kind: 'http', t_ms_sent: sent, t_ms_received: this.now(), request, response });
    return response.body_json;
  }

  /** Waits for the WS `executing {node:null}` of that prompt. */
  async waitDone(promptId: string) {
    await until('executing null', () => this.timeline.some((e) => e.kind === 'ws_message' && e.data.type === 'executing' && e.data.data.node === null && e.data.data.prompt_id === promptId), 300_000);
  }

  async waitNode(promptId: string, node: string) {
    await until(`node ${node}`, () => this.timeline.some((e) => e.kind === 'ws_message' && e.data.type === 'executing' && e.data.data.node === node && e.data.data.prompt_id === promptId), 300_000);
  }

  close() {
    this.ws?.close();
    this.timeline.push({ kind: 'ws_closed_by_client', t_ms: this.now() });
  }
}

interface Scenario {
  file: string;
  scenario: string;
  description: string;
  run(r: Recorder, clientId: string): Promise<string | null>;
}

const SCENARIOS: Scenario[] = [
  {
    file: 'contract-01-imageblur-padding-error.json',
    scenario: 'imageblur_padding_error',
    description: 'EmptyImage 4x4 -> ImageBlur blur_radius 10 -> SaveImage: a valid prompt that fails in ImageBlur (torch reflect padding needs the radius below each dimension): ws execution_error, history status error.',
    async run(r, cid) {
      const id = randomUUID();
      const prompt = {
        '1': { class_type: 'EmptyImage', inputs: { width: 4, height: 4, batch_size: 1, color: 0 } },
        '2': { class_type: 'ImageBlur', inputs: { image: ['1', 0], blur_radius: 10, sigma: 1 } },
        '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'blur_error' } },
      };
      await r.http('POST', '/prompt', { json: { prompt, client_id: cid, prompt_id: id } });
      await r.waitDone(id);
      await r.http('GET', `/history/${id}`);
      return id;
    },
  },
  {
    file: 'contract-02-interrupt-blur-chain.json',
    scenario: 'interrupt_blur_chain_by_id',
    description: 'EmptyImage 128x128 -> 4 x ImageBlur radius 31 -> SaveImage; POST /interrupt {prompt_id} while node 3 runs: the interrupt lands at the next node start (ImageBlur does not check it): ws execution_interrupted, history status error.',
    async run(r, cid) {
      const id = randomUUID();
      await r.http('POST', '/prompt', { json: { prompt: slowWorkflow(4, 'chain'), client_id: cid, prompt_id: id } });
      await r.waitNode(id, '3');
      await r.http('POST', '/interrupt', { json: { prompt_id: id } });
      await r.waitDone(id);
      await r.http('GET', `/history/${id}`);
      await r.http('GET', '/queue');
      return id;
    },
  },
  {
    file: 'contract-03-upload-and-video.json',
    scenario: 'upload_image_and_audio_then_video',
    description: 'POST /upload/image of a PNG and of a WAV (subfolder vidax/rec), then workflow-video.json with those names: LoadImage -> ImageScale -> RepeatImageBatch x8, LoadAudio -> CreateVideo -> SaveVideo mp4/h264; the history output is images + animated:[true]; GET /view of the mp4.',
    async run(r, cid) {
      return uploadAndRun(r, cid, 'workflow-video', [
        ['1', 'image', 'in.png', encodePng(solidFrame(32, 24, 0x3366cc)), 'image/png'],
        ['4', 'audio', 'in.wav', wav(1, 16_000), 'audio/wav'],
      ], ['6', 'vidax/rec/vid']);
    },
  },
  {
    file: 'contract-04-lipsync-standin.json',
    scenario: 'upload_video_and_audio_then_lipsync_standin',
    description: 'POST /upload/image of a video-only H.264 mp4 (8 frames of 64x64 at 8 fps, as VIDAX uploads for lipsync: PyAV 10 here cannot open one with sound) and of a WAV (subfolder vidax/rec), then workflow-lipsync-standin.json with those names: LoadVideo -> GetVideoComponents (images, fps) + LoadAudio -> CreateVideo -> SaveVideo mp4/h264; the history output is images + animated:[true]; GET /view of the mp4.',
    async run(r, cid) {
      return uploadAndRun(r, cid, 'workflow-lipsync-standin', [
        ['1', 'file', 'in.mp4', lipsyncClip(), 'video/mp4'],
        ['3', 'audio', 'in.wav', wav(1, 16_000), 'audio/wav'],
      ], ['5', 'vidax/rec/lipsync']);
    },
  },
];

/**
 * Uploads `files` (`[node, input, name, bytes, type]`) into vidax/rec and sets each node input of
 * the fixture workflow to it, saves node `out` under `prefix`, submits, waits for the end, then
 * GET /history and GET /view of that node's first file: the prompt id.
 */
async function uploadAndRun(r: Recorder, cid: string, workflow: string, files: [string, string, string, Buffer, string][], [out, prefix]: [string, string]): Promise<string> {
  const prompt = fixture(workflow);
  for (const [node, input, name, bytes, type] of files) {
    const up = await upload(r, name, bytes, type);
    prompt[node].inputs[input] = `${up.subfolder}/${up.name}`;
  }
  prompt[out].inputs.filename_prefix = prefix;
  const id = randomUUID();
  await r.http('POST', '/prompt', { json: { prompt, client_id: cid, prompt_id: id } });
  await r.waitDone(id);
  const h = await r.http('GET', `/history/${id}`);
  const file = h[id].outputs[out].images[0];
  await r.http('GET', `/view?filename=${encodeURIComponent(file.filename)}&subfolder=${encodeURIComponent(file.subfolder)}&type=${file.type}`);
  return id;
}

/** POST /upload/image of `bytes` as `name` into subfolder vidax/rec, recorded. */
function upload(r: Recorder, name: string, bytes: Buffer, type: string): Promise<Json> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)], { type }), name);
  form.append('subfolder', 'vidax/rec');
  form.append('overwrite', 'true');
  return r.http('POST', '/upload/image', { form, formDescription: { image: { filename: name, content_type: type, bytes: bytes.length }, subfolder: 'vidax/rec', overwrite: 'true' } });
}

async function main() {
  const script = resolve(process.argv[2] ?? '');
  mkdirSync(OUT, { recursive: true });
  for (const s of SCENARIOS) {
    const base = mkdtempSync(join(tmpdir(), 'vidax-record-'));
    const port = await freePort();
    const child = spawn(script, [String(port)], { env: { ...process.env, COMFYUI_BASE_DIR: base }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr?.on('data', (d) => { log += d; });
    const url = `http://127.0.0.1:${port}`;
    try {
      await until('ComfyUI to answer', async () => (await fetch(`${url}/system_stats`).catch(() => null))?.ok, 120_000);
      const version = (await (await fetch(`${url}/system_stats`)).json()).system.comfyui_version;
      const r = new Recorder(url);
      const cid = `contract-client-${randomUUID().slice(0, 8)}`;
      await r.connect(cid);
      const promptId = await s.run(r, cid);
      r.close();
      const out = {
        scenario: s.scenario,
        description: s.description,
        comfyui: { version, run_as: 'start.sh PORT (COMFYUI_BASE_DIR: a fresh folder)' },
        recorded_at_utc: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        server: 'http://127.0.0.1:PORT',
        notes: ['Recorded by test/contract/record.ts against a freshly started server; prompt_ids are client-chosen uuid4s.', 'Binary bodies are kept as body_length + body_head_base64 (first 32 bytes).'],
        prompt_id: promptId,
        timeline: r.timeline,
      };
      // No local paths in the repo: ComfyUI's folder and its base folder get neutral names.
      const text = JSON.stringify(out, null, 2).replaceAll(base, '/srv/comfyui-base').replaceAll(join(dirname(script), 'ComfyUI'), '/opt/ComfyUI');
      writeFileSync(join(OUT, s.file), `${text}\n`);
      process.stderr.write(`recorded ${s.file}\n`);
    } catch (e) {
      process.stderr.write(`${s.file}: ${(e as Error).message}\n${log.slice(-3000)}\n`);
      process.exitCode = 1;
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(base, { recursive: true, force: true });
    }
  }
}

await main();
