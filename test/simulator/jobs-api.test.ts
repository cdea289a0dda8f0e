// The newer ComfyUI's jobs API and 404s in the simulator (--version-string 0.33.0), and their
// absence in 0.3.64 mode.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { until } from '../support/comfyui.ts';
import { startSimulator } from '../support/simulator.ts';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
// biome-ignore lint/suspicious/noExplicitAny: test-side view of the server's JSON
type Json = any;
async function call(sim: Sim, path: string, body?: unknown): Promise<{ status: number; text: string; json: Json }> {
  const res = await fetch(`${sim.url}${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  let json: Json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json };
}
/** EmptyImage → `n` slow blurs (~0.3 s each in the simulator) → SaveImage. */
const slow = (n: number, prefix: string) => {
  const wf: Record<string, Json> = { '1': { class_type: 'EmptyImage', inputs: { width: 128, height: 128, batch_size: 1, color: Math.floor(Math.random() * 1e6) } } };
  for (let i = 0; i < n; i++) wf[String(i + 2)] = { class_type: 'ImageBlur', inputs: { image: [String(i + 1), 0], blur_radius: 31, sigma: 5 } };
  wf[String(n + 2)] = { class_type: 'SaveImage', inputs: { images: [String(n + 1), 0], filename_prefix: prefix } };
  return wf;
};

describe('simulator: jobs API (newer ComfyUI)', () => {
  it('0.33.0: lists, shows and cancels jobs; an interrupted prompt is cancelled there, error in history; unknown routes 404 empty', async () => {
    const sim = await startSimulator({ args: ['--version-string', '0.33.0'] });
    try {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await call(sim, '/prompt', { prompt: slow(20, 'a'), prompt_id: a });
      await call(sim, '/prompt', { prompt: slow(1, 'b'), prompt_id: b });
      await until('a to run', async () => (await call(sim, `/api/jobs/${a}`)).json.status === 'in_progress');
      const list = (await call(sim, '/api/jobs?status=pending,in_progress')).json;
      assert.deepEqual(list.jobs.map((j: Json) => [j.id, j.status]).sort(), [[a, 'in_progress'], [b, 'pending']].sort());
      assert.deepEqual(list.pagination, { offset: 0, limit: null, total: 2, has_more: false });
      const pending = (await call(sim, `/api/jobs/${b}`)).json;
      assert.deepEqual(Object.keys(pending).sort(), ['create_time', 'id', 'outputs_count', 'previewable_outputs_count', 'priority', 'status']);
      assert.deepEqual((await call(sim, `/api/jobs/${b}/cancel`, {})).json, { cancelled: true });
      assert.equal((await call(sim, `/api/jobs/${b}`)).status, 404);
      assert.deepEqual((await call(sim, `/api/jobs/${a}/cancel`, {})).json, { cancelled: true });
      const done = await until('a to end', async () => {
        const j = (await call(sim, `/api/jobs/${a}`)).json;
        return j.status === 'cancelled' ? j : null;
      });
      assert.equal(done.execution_status.status_str, 'error');
      assert.equal((await call(sim, `/history/${a}`)).json[a].status.messages.at(-1)[0], 'execution_interrupted');
      assert.deepEqual((await call(sim, `/api/jobs/${a}/cancel`, {})).json, { cancelled: false });
      // A finished job: outputs counted, the first previewable one named.
      await call(sim, '/prompt', { prompt: slow(1, 'c'), prompt_id: c });
      const ok = await until('c to complete', async () => {
        const j = (await call(sim, `/api/jobs/${c}`)).json;
        return j.status === 'completed' ? j : null;
      });
      assert.equal(ok.outputs_count, 1);
      assert.equal(ok.preview_output.filename, 'c_00001_.png');
      assert.equal(ok.workflow.prompt['3'].class_type, 'SaveImage');
      assert.equal((await call(sim, '/api/jobs?status=cancelled')).json.jobs[0].id, a);
      assert.deepEqual((await call(sim, '/api/jobs?status=nope')).status, 400);
      assert.deepEqual((await call(sim, '/api/jobs/not-a-uuid/cancel', {})).status, 400);
      assert.deepEqual((await call(sim, `/api/jobs/${randomUUID()}`)).json, { error: 'Job not found' });
      const unknown = await call(sim, '/no/such/route');
      assert.deepEqual([unknown.status, unknown.text], [404, '']);
      assert.equal((await call(sim, '/jobs')).status, 404, 'jobs only under /api');
    } finally {
      await sim.stop();
    }
  });

  it('0.3.64: no jobs API; unknown routes 404 with the aiohttp text', async () => {
    const sim = await startSimulator();
    try {
      const jobs = await call(sim, '/api/jobs');
      assert.deepEqual([jobs.status, jobs.text], [404, '404: Not Found']);
      assert.equal((await call(sim, `/api/jobs/${randomUUID()}/cancel`, {})).status, 404);
    } finally {
      await sim.stop();
    }
  });
});
