// Exactly one terminal event per run, also across a crash at the worst instant: VIDAX is killed
// (SIGKILL, through the test-only fault point VIDAX_TEST_FAULT) right after a run's
// `run.completed` / `run.failed` landed in logs/events.jsonl and before the manifest write that
// ends the run. The next start completes the manifest from the log: same status, exit status
// and error; no second terminal event, no phase run again, one terminal webhook, and the event
// stream of the run ends after that one event.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until } from '../support/comfyui.ts';
import { tempDir } from '../support/context.ts';
import { type RunningSimulator, startSimulator } from '../support/simulator.ts';
import { workflow } from '../support/vidax.ts';
import { newSecret, type Receiver, startReceiver } from '../support/webhook-receiver.ts';
import { call } from './support/http.ts';
import { KEY, startVidaxProc, type VidaxProc } from './support/proc.ts';

const FAULT = { VIDAX_TEST_FAULT: 'crash-after-terminal-event' };
const END = new Set(['run.completed', 'run.failed']);
const ok = (status: number) => status >= 200 && status < 300;
type Ev = { seq: number; type: string; phase?: string; code?: string };

describe('exactly one terminal event per run, across a crash between the event and the manifest', () => {
  const secret = newSecret();
  let sim: RunningSimulator;
  let receiver: Receiver;
  let base: string;
  let vx: VidaxProc | undefined;
  const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
  const config = () => ({
    comfyui: { url: sim.url, autoStart: false, requestTimeoutMs: 5000 },
    webhooks: { secret, urlAllow: ['127.0.0.1'], allowLoopback: true, timeoutMs: 2000, retry: { firstDelayMs: 200, maxDelayMs: 1000 } },
  });
  const runDir = (id: string) => join(base, 'runs', id);
  const events = (id: string): Ev[] =>
    readFileSync(join(runDir(id), 'logs', 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
  const manifest = (id: string) => JSON.parse(readFileSync(join(runDir(id), 'manifest.json'), 'utf8'));
  const post = async (path: string, body: unknown) => {
    const r = await call((vx as VidaxProc).url, path, { method: 'POST', headers, body: JSON.stringify(body), timeoutMs: 10_000 });
    return { status: r.status, body: JSON.parse(r.text) };
  };

  /** Starts a run on a VIDAX that dies at its end; returns once it died there. */
  async function crashAtEnd(job: Record<string, unknown>): Promise<string> {
    await vx?.kill();
    vx = await startVidaxProc(base, config(), 20_000, FAULT);
    const created = await post('/jobs', { ...job, webhook: { url: receiver.url }, start: true });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.run_id as string;
    const exit = await Promise.race([vx.proc.exited, new Promise((r) => setTimeout(r, 60_000, null))]);
    assert.ok(exit, 'VIDAX did not reach the fault point within 60 s');
    // The instant of the fault: the terminal event is logged, the manifest still says running.
    assert.equal(events(id).filter((e) => END.has(e.type)).length, 1);
    assert.equal(manifest(id).run_status, 'running');
    return id;
  }

  /** The run's SSE stream, read to its end (it must end by itself after the terminal event). */
  async function sseTypes(id: string): Promise<string[]> {
    const r = await call((vx as VidaxProc).url, `/jobs/${id}/events`, { headers: { 'x-api-key': KEY }, timeoutMs: 10_000 });
    assert.equal(r.status, 200);
    return [...r.text.matchAll(/^event: (.+)$/gm)].map((m) => m[1] as string);
  }

  async function restartAndCheck(id: string, want: { status: string; exit: string; code?: string; phase?: string }) {
    const before = events(id);
    await vx?.kill();
    vx = await startVidaxProc(base, config());
    const get = async () => JSON.parse((await call((vx as VidaxProc).url, `/jobs/${id}`, { headers, timeoutMs: 10_000 })).text);
    await until('the run ends at recovery', async () => (await get()).run_status !== 'running', 20_000);
    const m = manifest(id);
    assert.equal((await get()).run_status, m.run_status);
    assert.equal(m.run_status, want.status);
    assert.equal(m.exit_status, want.exit);
    if (want.code) {
      assert.equal(m.error?.code, want.code);
      assert.equal(m.phases[want.phase as string].status, 'failed');
      assert.equal(m.phases[want.phase as string].error?.code, want.code);
    } else assert.equal(m.error, null);
    for (const [name, p] of Object.entries(m.phases as Record<string, { status: string }>)) {
      assert.ok(!['queued', 'running'].includes(p.status), `phase ${name} is still ${p.status}`);
    }
    // Nothing was appended at recovery: the log is the one the crash left (no re-run, no 2nd end).
    const after = events(id);
    assert.deepEqual(after, before);
    assert.equal(after.filter((e) => END.has(e.type)).length, 1);
    // The event stream ends after the one terminal event.
    const sse = await sseTypes(id);
    assert.equal(sse.filter((t) => END.has(t)).length, 1);
    assert.ok(END.has(sse.at(-1) as string), `the stream ends with ${sse.at(-1)}`);
    // Exactly one terminal webhook (one id; delivered), also after a while.
    await until('the terminal webhook', () => receiver.received.some((x) => x.type === `run.${want.status}` && ok(x.answered) && x.body.data.run_id === id), 20_000);
    await new Promise((res) => setTimeout(res, 1500));
    const ends = receiver.received.filter((x) => END.has(x.type) && x.body.data.run_id === id);
    assert.equal(new Set(ends.map((x) => x.id)).size, 1, `terminal webhooks: ${JSON.stringify(ends.map((x) => [x.type, x.id, x.answered]))}`);
    assert.equal(ends.filter((x) => ok(x.answered)).length, 1);
    return m;
  }

  before(async () => {
    sim = await startSimulator();
    receiver = await startReceiver(secret);
    base = tempDir('vidax-terminal-once-');
  });
  after(async () => {
    await vx?.kill();
    await sim?.stop();
    await receiver?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('run.completed logged, manifest not written: recovery completes it from the log (encode not re-run)', { timeout: 120_000 }, async () => {
    const id = await crashAtEnd({ workflow: workflow('single') });
    const m = await restartAndCheck(id, { status: 'completed', exit: 'success' });
    // The encode phase that ended in the log is complete in the manifest, final.mp4 listed as it is on disk.
    assert.equal(m.phases.encode.status, 'completed');
    assert.equal(m.phases.comfyui.status, 'completed');
    const final = m.artifacts.find((a: { path: string }) => a.path === 'final.mp4');
    assert.ok(final, JSON.stringify(m.artifacts));
    assert.equal(final.bytes, readFileSync(join(runDir(id), 'final.mp4')).length);
    assert.equal(events(id).filter((e) => e.type === 'phase.started' && e.phase === 'encode').length, 1, 'encode ran once');
    await vx?.kill();
  });

  it('run.failed logged, manifest not written: recovery fails it with the same code and phase', { timeout: 120_000 }, async () => {
    // ComfyUI refuses this graph (width 0 is below EmptyImage's minimum): the run fails in comfyui.
    const wf = workflow('single');
    const empty = Object.values(wf as Record<string, { class_type: string; inputs: Record<string, unknown> }>).find((n) => n.class_type === 'EmptyImage');
    assert.ok(empty);
    empty.inputs.width = 0;
    const id = await crashAtEnd({ workflow: wf });
    const logged = events(id).find((e) => e.type === 'run.failed') as Ev;
    await restartAndCheck(id, { status: 'failed', exit: 'failed', code: logged.code as string, phase: 'comfyui' });
    assert.ok(!existsSync(join(runDir(id), 'final.mp4')));
  });
});
