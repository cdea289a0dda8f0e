import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { createComfyUIClient } from '../../lib/comfyui/client.ts';
import { rejectsWith } from '../support/comfyui.ts';

/** The client over undici's MockAgent: ComfyUI's answers and failures without a server. */
const URL = 'http://comfyui.test:8188';

describe('ComfyUI client over a MockAgent', () => {
  let agent: MockAgent;
  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
  });
  afterEach(() => agent.close());
  const client = (requestTimeoutMs = 2000) => createComfyUIClient({ url: URL, requestTimeoutMs, dispatcher: agent });
  const submit = (c = client()) => c.submit({ prompt: { '1': { class_type: 'X', inputs: {} } }, promptId: 'p-1', clientId: 'c-1' });

  it('sends our prompt id and client id; reads number and node_errors', async () => {
    let sent: unknown;
    agent
      .get(URL)
      .intercept({ path: '/prompt', method: 'POST' })
      .reply(200, (opts) => {
        sent = JSON.parse(String(opts.body));
        return { prompt_id: 'p-1', number: 7, node_errors: {} };
      });
    assert.deepEqual(await submit(), { prompt_id: 'p-1', number: 7, node_errors: {} });
    assert.deepEqual(sent, { prompt: { '1': { class_type: 'X', inputs: {} } }, prompt_id: 'p-1', client_id: 'c-1' });
  });

  it('a 400 with ComfyUI\'s error body is COMFYUI_REJECTED with error and node_errors', async () => {
    const body = {
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
      node_errors: { '1': { errors: [{ type: 'value_not_in_list' }], class_type: 'X' } },
    };
    agent.get(URL).intercept({ path: '/prompt', method: 'POST' }).reply(400, body);
    const err = await rejectsWith(submit(), 'COMFYUI_REJECTED');
    assert.equal(err.status, 500);
    assert.deepEqual(err.details, { error: body.error, node_errors: body.node_errors });
    assert.match(err.message, /Prompt outputs failed validation/);
  });

  it('a 400 that is not JSON, and a 500, are COMFYUI_HTTP_ERROR with the status and the start of the body', async () => {
    agent.get(URL).intercept({ path: '/prompt', method: 'POST' }).reply(400, '<html>bad</html>');
    const bad = await rejectsWith(submit(), 'COMFYUI_HTTP_ERROR');
    assert.deepEqual(bad.details, { status: 400, body: '<html>bad</html>' });
    agent.get(URL).intercept({ path: '/history/p-1', method: 'GET' }).reply(500, 'x'.repeat(2000));
    const err = await rejectsWith(client().history('p-1'), 'COMFYUI_HTTP_ERROR');
    assert.equal((err.details as { status: number; body: string }).status, 500);
    assert.equal((err.details as { body: string }).body.length, 500);
  });

  it('an answer later than the deadline is COMFYUI_TIMEOUT, within about the deadline', async () => {
    agent.get(URL).intercept({ path: '/queue', method: 'GET' }).reply(200, { queue_running: [], queue_pending: [] }).delay(3000);
    const started = performance.now();
    await rejectsWith(client(2000).queue({ timeoutMs: 150 }), 'COMFYUI_TIMEOUT');
    assert.ok(performance.now() - started < 2000, 'the per-call deadline, not the default one');
  });

  it('a refused connection is COMFYUI_UNREACHABLE naming the cause, never a timeout', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8188'), { code: 'ECONNREFUSED' });
    agent.get(URL).intercept({ path: '/system_stats', method: 'GET' }).replyWithError(refused);
    const err = await rejectsWith(client().systemStats(), 'COMFYUI_UNREACHABLE');
    assert.deepEqual(err.details, { reason: 'ECONNREFUSED' });
    assert.match(err.message, /unreachable at http:\/\/comfyui\.test:8188/);
  });

  it('a caller\'s abort is passed through as is, not turned into a ComfyUI error', async () => {
    agent.get(URL).intercept({ path: '/queue', method: 'GET' }).reply(200, {}).delay(2000);
    const abort = new AbortController();
    const pending = client().queue({ signal: abort.signal });
    abort.abort(new Error('stop'));
    await assert.rejects(pending, (err: Error) => !('code' in err && String(err.code).startsWith('COMFYUI_')));
  });

  it('close() leaves a dispatcher it was given open', async () => {
    const c = client();
    await c.close();
    agent.get(URL).intercept({ path: '/queue', method: 'GET' }).reply(200, { queue_running: [[1, 'a', {}, {}, []]], queue_pending: [] });
    assert.equal((await client().queue()).running[0]?.prompt_id, 'a');
  });
});
