// What a new user posts first (issue 9 item 12): a ComfyUI export as the whole body, a body for
// ComfyUI's /prompt, a JSON file with a UTF-8 byte-order mark, a job with several unknown keys.
// Each is checked inline, on the parser thread and in a multipart `job` part.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import jobsCreate from '../../functions/jobs.post.ts';
import { VidaxError } from '../../lib/errors.ts';
import { createJobParser } from '../../lib/jobs/job-parser.ts';
import { createRunStore } from '../../lib/runs/store.ts';
import { authed, baseContext, testConfig } from '../support/context.ts';
import { fixtureWorkflow, snapshot } from '../support/jobs.ts';
import { multipartBody, multipartType } from '../support/multipart.ts';

const BOM = '\uFEFF';
const WRAP = 'send {"workflow": <your export>}';

function context(offThread = false) {
  const config = testConfig();
  const jobParser = offThread ? createJobParser({ offThreadBytes: 0, maxQueued: 4 }) : undefined;
  return { ...baseContext(config), runs: createRunStore({ runsDir: config.runsDir }), ...(jobParser ? { jobParser } : {}) };
}

const postJson = (body: string) =>
  new Request('http://x/jobs', authed({ method: 'POST', body, headers: { 'content-type': 'application/json' } }));
const postMultipart = (jobText: string) =>
  new Request('http://x/jobs', authed({ method: 'POST', body: new Uint8Array(multipartBody([{ name: 'job', data: jobText }])), headers: { 'content-type': multipartType() } }));

type ErrorBody = { ok: false; error: { code: string; message: string; details: { path: string; message: string }[] } };

/** Posts, expects 400 validation_failed with nothing written, returns the error. */
async function refused(ctx: ReturnType<typeof context>, request: Request): Promise<ErrorBody['error']> {
  const before = snapshot(ctx.config.runsDir);
  const res = await jobsCreate.fetch(request, ctx);
  const body = (await res.json()) as ErrorBody;
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.equal(body.error.code, 'validation_failed');
  // (multipart stages its files under .uploads/, whose empty folder may stay)
  const written = (list: string[]) => list.filter((p) => p !== '/.uploads:dir');
  assert.deepEqual(written(snapshot(ctx.config.runsDir)), written(before), 'nothing written');
  return body.error;
}

const variants = [
  { label: 'JSON, inline', ctx: () => context(), post: postJson },
  { label: 'JSON, on the parser thread', ctx: () => context(true), post: postJson },
  { label: 'multipart job part', ctx: () => context(), post: postMultipart },
];

describe('POST /jobs: what a new user sends first', () => {
  const contexts: ReturnType<typeof context>[] = [];
  after(() => Promise.all(contexts.map((c) => c.jobParser?.close())));
  const make = (v: (typeof variants)[number]) => {
    const ctx = v.ctx();
    contexts.push(ctx);
    return ctx;
  };

  for (const v of variants) {
    it(`${v.label}: a ComfyUI export as the whole body gets one issue saying exactly how to wrap it`, async () => {
      const ctx = make(v);
      const err = await refused(ctx, v.post(JSON.stringify(fixtureWorkflow('workflow-batch'))));
      assert.ok(err.message.includes(WRAP), err.message);
      assert.deepEqual(err.details.length, 1, 'not every node id as an unknown field');
      assert.equal(err.details[0]?.path, '');
      assert.ok(err.details[0]?.message.includes(WRAP));
      // The same export, wrapped as the hint says, is a job.
      const ok = await jobsCreate.fetch(v.post(`{"workflow": ${JSON.stringify(fixtureWorkflow('workflow-batch'))}}`), ctx);
      assert.equal(ok.status, 202);
    });

    it(`${v.label}: a ComfyUI /prompt body is told to send its prompt as "workflow"`, async () => {
      const ctx = make(v);
      const err = await refused(ctx, v.post(JSON.stringify({ prompt: fixtureWorkflow('workflow-single'), client_id: 'abc' })));
      assert.match(err.message, /ComfyUI's \/prompt/);
      assert.ok(err.message.includes('send {"workflow": <the value of "prompt">}'), err.message);
      assert.deepEqual(err.details.map((i) => i.path), ['prompt']);
    });

    it(`${v.label}: a UI-format export as the whole body is told to export in API format and wrap it`, async () => {
      const ctx = make(v);
      const err = await refused(ctx, v.post(JSON.stringify({ last_node_id: 2, nodes: [{ id: 1, type: 'EmptyImage' }], links: [] })));
      assert.match(err.message, /Save \(API Format\)/);
      assert.match(err.message, /send \{"workflow": <that file>\}/);
    });

    it(`${v.label}: a UTF-8 byte-order mark before the JSON is accepted: the run is created`, async () => {
      const ctx = make(v);
      const text = `${BOM}${JSON.stringify({ workflow: fixtureWorkflow('workflow-single'), name: 'bom' })}`;
      const res = await jobsCreate.fetch(v.post(text), ctx); // the BOM goes out as the bytes EF BB BF
      const body = await res.json();
      assert.equal(res.status, 202, JSON.stringify(body));
      const run = await ctx.runs.get(body.run_id);
      assert.equal(run.name, 'bom');
    });

    it(`${v.label}: every unknown key is listed, at the top level and in the options`, async () => {
      const ctx = make(v);
      const job = {
        workflow: fixtureWorkflow('workflow-single'),
        foo: 1,
        bar: 2,
        phases: { encode: { fps: 24, x: 1, y: 2 }, stabilise: { enabled: true } },
        params: [{ node: '1', input: 'width', value: 32, extra: 1, more: 2 }],
        webhook: { url: 'https://hooks.example.com/x', secret: 's', retries: 3 },
      };
      const err = await refused(ctx, v.post(JSON.stringify(job)));
      const unknown = err.details.filter((i) => i.message === 'unknown field').map((i) => i.path).sort();
      assert.deepEqual(unknown, ['bar', 'foo', 'params.0.extra', 'params.0.more', 'phases.encode.x', 'phases.encode.y', 'phases.stabilise', 'webhook.retries', 'webhook.secret']);
    });
  }

  it('many unknown keys: the first 50 are listed, then one issue counts the rest', async () => {
    const ctx = make(variants[0] as (typeof variants)[number]);
    const job: Record<string, unknown> = { workflow: fixtureWorkflow('workflow-single') };
    for (let i = 0; i < 1000; i++) job[`k${i}`] = i;
    const err = await refused(ctx, postJson(JSON.stringify(job)));
    assert.equal(err.details.filter((i) => i.message === 'unknown field').length, 50);
    assert.deepEqual(err.details.at(-1), { path: '', message: 'and 950 more unknown fields' });
  });

  it('a body that is only a byte-order mark, or a BOM before non-JSON, is still invalid_json', async () => {
    const ctx = make(variants[0] as (typeof variants)[number]);
    for (const text of [BOM, `${BOM}${BOM}{}`, `${BOM}{"workflow":`]) {
      const res = await jobsCreate.fetch(postJson(text), ctx);
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.code, 'invalid_json');
    }
  });

  it('the parser thread brings the hint back as the same error', async () => {
    const parser = createJobParser({ offThreadBytes: 0, maxQueued: 1 });
    try {
      const err = await parser.parse(Buffer.from(JSON.stringify(fixtureWorkflow('workflow-single')))).then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof VidaxError);
      assert.ok(err.message.includes(WRAP));
    } finally {
      await parser.close();
    }
  });
});
