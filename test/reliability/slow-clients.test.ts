// Slow and many clients: slots are reclaimed within the configured timeouts, connections are
// capped, and a run in flight finishes through the flood.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { until } from '../support/comfyui.ts';
import { startVidaxWithSim } from '../support/vidax.ts';
import { TEST_KEY } from '../support/context.ts';

const slowJob = {
  workflow: {
    '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
    '2': { class_type: 'VidaxSlowSteps', inputs: { images: ['1', 0], steps: 150, step_ms: 20 } },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'flood' } },
  },
};

describe('slow clients', () => {
  it('a flood of slow clients is cut at headersTimeoutMs/requestTimeoutMs, capped at maxConnections, and a run in flight completes', { timeout: 90_000 }, async () => {
    const vx = await startVidaxWithSim({ config: { headersTimeoutMs: 1000, requestTimeoutMs: 3000, maxConnections: 64 } });
    const sockets: Socket[] = [];
    try {
      const id = await vx.createRun(slowJob);
      assert.equal((await vx.start(id)).status, 202);
      const { port } = new URL(vx.running.url);
      const started = Date.now();
      const closedAt: number[] = [];
      const answers = new Map<string, number>();
      const open = (first: string, trickle: string) =>
        new Promise<void>((resolve) => {
          const s = connect(Number(port), '127.0.0.1', () => {
            s.write(first);
            const t = setInterval(() => s.writable && s.write(trickle), 300);
            s.on('close', () => {
              clearInterval(t);
              closedAt.push(Date.now() - started);
            });
            resolve();
          });
          s.on('error', () => {});
          // Read the answer, so that the server's close is seen.
          s.on('data', (d: Buffer) => {
            const status = /^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1];
            if (status) answers.set(status, (answers.get(status) ?? 0) + 1);
          });
          sockets.push(s);
        });
      // 30 that never finish their body, then 170 that never finish their headers.
      for (let i = 0; i < 30; i++) await open(`POST /jobs HTTP/1.1\r\nx-api-key: ${TEST_KEY}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{`, ' ');
      for (let i = 0; i < 170; i++) await open('GET /health HTTP/1.1\r\nX-Slow: a', 'a');
      // Past maxConnections Node closes new connections at once; the rest are cut by the timeouts.
      await until('every slow client cut', () => closedAt.length === sockets.length, 15_000).catch((e) => { console.log('closed', closedAt.length, 'of', sockets.length, JSON.stringify(closedAt.slice(0, 5)), JSON.stringify(closedAt.slice(-5))); throw e; });
      const last = Math.max(...closedAt);
      assert.ok(last > 2500, `the slow bodies were held until requestTimeoutMs (last cut at ${last} ms)`);
      console.log(`slow clients: ${sockets.length} opened, all cut within ${last} ms (headersTimeoutMs 1000, requestTimeoutMs 3000, maxConnections 64)`);
      assert.ok((answers.get('408') ?? 0) >= 64, `408s: ${JSON.stringify(Object.fromEntries(answers))}`);
      assert.ok(last < 3000 + 2500, `the last slow client was cut after ${last} ms`);
      const health = await vx.key(vx.api.get('/health'));
      assert.equal(health.status, 200);
      const end = await vx.waitEnd(id, 60_000);
      assert.equal(end.run_status, 'completed', JSON.stringify(end.error));
    } finally {
      for (const s of sockets) s.destroy();
      await vx.close();
    }
  });
});
