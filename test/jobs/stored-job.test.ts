// A stored job read for a start, in this thread and on the parser thread: the same summary and
// the same workflow.json bytes; large ComfyUI replies come back without their graphs.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createJobParser } from '../../lib/jobs/job-parser.ts';
import { prepareStored, summaryOf } from '../../lib/jobs/stored-job.ts';
import { prepareWorkflow, type Workflow } from '../../lib/runner/prepare.ts';
import { fixtureWorkflow } from '../support/jobs.ts';

const RUN = 'r_1767225600000_0000000000';

function storedJob(extraNodes: number, more: Record<string, unknown> = {}): Record<string, unknown> {
  const workflow: Record<string, unknown> = { ...fixtureWorkflow('workflow-single') };
  for (let i = 0; i < extraNodes; i++) workflow[`n${i}`] = { class_type: 'Note', inputs: { text: 'p'.repeat(1000) } };
  return { workflow, name: 'stored', metadata: { shot: 1 }, params: [{ node: '1', input: 'width', value: 32 }], ...more };
}

describe('stored jobs for a start', () => {
  const parser = createJobParser({ offThreadBytes: 64 * 1024, maxQueued: 2 });
  after(() => parser.close());

  it('a large job.json: the thread answers the summary and the graph sent, as prepareWorkflow builds it', async () => {
    const job = storedJob(2000);
    const text = JSON.stringify(job);
    const expected = `${JSON.stringify(prepareWorkflow(job.workflow as Workflow, job.params as never, RUN))}\n`;
    const inline = prepareStored(Buffer.from(text), RUN, null);
    const threaded = await parser.prepare(Buffer.from(text), RUN, null); // moved to the thread
    for (const got of [inline, threaded]) {
      assert.equal(Buffer.from(got.graph as Uint8Array).toString(), expected);
      assert.equal('workflow' in got.job, false);
      assert.deepEqual(got.job.metadata, { shot: 1 });
    }
    const graph = JSON.parse(Buffer.from(threaded.graph as Uint8Array).toString());
    assert.equal(graph['1'].inputs.width, 32, 'params applied');
    assert.match(String(Object.values(graph as Record<string, { inputs: { filename_prefix?: string } }>).find((n) => n.inputs.filename_prefix)?.inputs.filename_prefix), new RegExp(`^vidax/${RUN}/`));
    assert.deepEqual(await parser.summary(Buffer.from(text)), summaryOf(Buffer.from(text)));
  });

  it('a job with inputs to upload first: no graph until they are uploaded', async () => {
    const job = storedJob(2000, { params: [{ node: '1', input: 'width', input_file: 'clip' }] });
    const text = JSON.stringify(job);
    assert.equal((await parser.prepare(Buffer.from(text), RUN, null)).graph, null);
    const later = await parser.prepare(Buffer.from(text), RUN, { clip: 'vidax_clip.png' });
    assert.equal(JSON.parse(Buffer.from(later.graph as Uint8Array).toString())['1'].inputs.width, 'vidax_clip.png');
  });

  it('a large /history or /queue reply comes back without the prompts\' graphs', async () => {
    const big = { '1': { class_type: 'Note', inputs: { text: 'x'.repeat(2_000_000) } } };
    const history = { p1: { prompt: [3, 'p1', big, {}, ['9']], outputs: { 9: { images: [] } }, status: { status_str: 'success' } } };
    assert.deepEqual(await parser.comfyuiReply(Buffer.from(JSON.stringify(history)), 'history'), {
      p1: { prompt: [3, 'p1', null, {}, ['9']], outputs: { 9: { images: [] } }, status: { status_str: 'success' } },
    });
    const queue = { queue_running: [[1, 'a', big, {}, []]], queue_pending: [[2, 'b', big, { client_id: 'c' }, ['9']]] };
    assert.deepEqual(await parser.comfyuiReply(Buffer.from(JSON.stringify(queue)), 'queue'), {
      queue_running: [[1, 'a', null, {}, []]],
      queue_pending: [[2, 'b', null, { client_id: 'c' }, ['9']]],
    });
    await assert.rejects(parser.comfyuiReply(Buffer.from('{"not json'), 'history'));
  });
});
