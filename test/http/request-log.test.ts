import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRequestLog } from '../../lib/http/request-log.ts';
import { createMemoryLogger } from '../../lib/logger.ts';

describe('request log', () => {
  it('cuts long paths to logPathMaxChars and says how long they were', () => {
    const log = createMemoryLogger();
    const line = createRequestLog(log, { logPathMaxChars: 16, logUnauthenticatedPerSec: 100 });
    line({ request_id: 'a', method: 'GET', path: `/${'x'.repeat(15_000)}`, status: 404, ms: 1 });
    line({ request_id: 'b', method: 'GET', path: '/health', status: 200, ms: 1 });
    assert.equal(log.lines[0]?.path, `/${'x'.repeat(15)}…`);
    assert.equal(log.lines[0]?.path_length, 15_001);
    assert.deepEqual(log.lines[1], { level: 'info', msg: 'request', request_id: 'b', method: 'GET', path: '/health', status: 200, ms: 1 });
  });

  it('logs at most logUnauthenticatedPerSec unauthenticated answers a second and counts the dropped ones', async () => {
    const log = createMemoryLogger();
    const line = createRequestLog(log, { logPathMaxChars: 256, logUnauthenticatedPerSec: 5 });
    for (let i = 0; i < 1000; i++) line({ request_id: null, method: 'GET', path: '/x', status: i % 2 ? 401 : 400 });
    // Authenticated answers are never dropped.
    for (let i = 0; i < 20; i++) line({ request_id: null, method: 'GET', path: '/health', status: 200 });
    const requests = () => log.lines.filter((l) => l.msg === 'request');
    assert.equal(requests().filter((l) => l.status !== 200).length, 5);
    assert.equal(requests().filter((l) => l.status === 200).length, 20);
    await new Promise((r) => setTimeout(r, 1100));
    const summary = log.lines.filter((l) => l.msg === 'requests not logged');
    assert.equal(summary.length, 1);
    assert.equal(summary[0]?.dropped, 995);
    assert.equal(summary[0]?.level, 'warn');
    // A new second logs again.
    line({ request_id: null, method: 'GET', path: '/x', status: 401 });
    assert.equal(requests().filter((l) => l.status === 401).length, 3);
  });
});
