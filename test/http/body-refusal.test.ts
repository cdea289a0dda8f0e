// A body refused part way (a JSON limit met while it arrives) still gets its 413 to a client that
// is still sending: the rest is read and dropped first. Answering at once would make Node close
// the connection under that client, which then sees EPIPE/ECONNRESET instead of the answer.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/comfyui.ts';
import { TEST_KEY, tempDir } from '../support/context.ts';
import { type Spawned, spawnVidax } from '../support/spawn.ts';

const TRIES = 30;

/** One POST on a fresh connection, written in one go; the answer, or the socket error. */
function post(port: number, body: Buffer): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/jobs', agent: false, headers: { 'x-api-key': TEST_KEY, 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', (err) => resolve({ error: err.message }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.write(body);
    req.end();
  });
}

describe('a body refused while it arrives', () => {
  // The VIDAX process (client and server in one process do not show it: the timing differs).
  let vidax: Spawned;
  let port: number;
  before(async () => {
    const base = tempDir('vidax-refusal-');
    const config = join(base, 'vidax.json');
    writeFileSync(config, JSON.stringify({ runsDir: 'runs', requestLog: false, maxBodyBytes: 33_554_432, comfyui: { url: 'http://127.0.0.1:9', autoStart: false } }));
    port = await freePort();
    vidax = spawnVidax({ VIDAX_API_KEY: TEST_KEY, VIDAX_PORT: String(port), VIDAX_CONFIG: config });
    await vidax.waitFor(/listening on http/, 20_000);
  });
  after(() => vidax.stop());

  it('answers 413 with the JSON error to every client still sending (a 3 M-element array, 6 MB; 30 tries), never a reset', { timeout: 120_000 }, async () => {
    const body = Buffer.from(`{"workflow":{"1":{"class_type":"X","inputs":{}}},"metadata":[${'0,'.repeat(3_000_000)}0]}`);
    const got: string[] = [];
    for (let i = 0; i < TRIES; i++) {
      const r = await post(port, body);
      got.push('error' in r ? `no answer: ${r.error}` : `${r.status} ${(JSON.parse(r.body) as { error: { code: string } }).error.code}`);
    }
    assert.deepEqual(got, Array(TRIES).fill('413 payload_too_large'));
  });
});
