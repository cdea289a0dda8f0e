import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { VidaxError } from '../../lib/errors.ts';
import { createJobParser, parseJobBytes, toParsed } from '../../lib/jobs/job-parser.ts';
import { fixtureWorkflow } from '../support/jobs.ts';

/** A valid job of about `mb` MB: many nodes with string inputs. */
function bigJob(mb: number): Record<string, unknown> {
  const workflow: Record<string, unknown> = { ...fixtureWorkflow('workflow-single') };
  const pad = 'p'.repeat(1000);
  for (let i = 0; i < mb * 1000; i++) workflow[`n${i}`] = { class_type: 'Note', inputs: { text: pad } };
  return { workflow, name: 'big', metadata: { a: [1, 2] } };
}

describe('job parser', () => {
  const parser = createJobParser({ offThreadBytes: 64 * 1024, maxQueued: 2 });
  after(() => parser.close());

  it('parses a large job on its thread to the same job as in this one, and a small one inline', async () => {
    const bytes = Buffer.from(JSON.stringify(bigJob(2)));
    const inline = toParsed(parseJobBytes(bytes));
    const expected = parseJobBytes(bytes);
    const parsed = await parser.parse(Buffer.from(bytes)); // a large body is moved to the thread
    assert.deepEqual(parsed.job, inline.job);
    assert.equal(Buffer.from(parsed.storedText).toString(), Buffer.from(inline.storedText).toString());
    // job.json's text is the whole job, compact.
    assert.deepEqual(JSON.parse(Buffer.from(parsed.storedText).toString()), expected);
    assert.ok(parsed.storedText.byteLength <= bytes.byteLength + 1);
    assert.equal('workflow' in parsed.job, false, 'the workflow stays on the thread');
    const small = Buffer.from(JSON.stringify({ workflow: fixtureWorkflow('workflow-single') }));
    assert.deepEqual((await parser.parse(small)).job, {});
  });

  it('brings the thread\'s refusals back as the same errors: invalid_json, validation_failed with every issue', async () => {
    const big = bigJob(1);
    const bad = Buffer.from(JSON.stringify({ ...big, name: 7, timeout_s: 0 }));
    const err = await parser.parse(bad).then(() => assert.fail('expected a refusal'), (e: unknown) => e);
    assert.ok(err instanceof VidaxError);
    assert.equal(err.code, 'validation_failed');
    assert.deepEqual((err.details as { path: string }[]).map((i) => i.path).sort(), ['name', 'timeout_s']);
    const notJson = Buffer.from(`${JSON.stringify(big).slice(0, -1)}`);
    const err2 = await parser.parse(notJson).then(() => assert.fail('expected a refusal'), (e: unknown) => e);
    assert.ok(err2 instanceof VidaxError);
    assert.equal(err2.code, 'invalid_json');
  });

  it('bounds the large bodies in flight: over maxQueued is 503 server_busy with Retry-After', async () => {
    const bytes = Buffer.from(JSON.stringify(bigJob(2)));
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => parser.parse(Buffer.from(bytes))));
    const busy = results.filter((r) => r.status === 'rejected' && (r.reason as VidaxError).code === 'server_busy');
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    assert.equal(busy.length, 2);
    assert.equal((busy[0] as PromiseRejectedResult).reason.status, 503);
    assert.equal((busy[0] as PromiseRejectedResult).reason.headers['Retry-After'], '1');
  });
});
