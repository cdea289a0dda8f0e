import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ORIGIN_HOST, routedTarget } from '../../adapters/request-target.ts';

const pathOf = (target: string) => new URL(`http://${ORIGIN_HOST}${routedTarget(target)}`).pathname;

describe('request target → routed path', () => {
  it('keeps plain paths as they are', () => {
    for (const t of ['/', '/health', '/jobs/r_1767225600000_0000k3x9qa/start', '/jobs/']) assert.equal(routedTarget(t), t);
  });

  it('never lets dot segments, backslashes or # climb to another route', () => {
    const targets = [
      '/jobs/%2e%2e/comfyui/start',
      '/jobs/%2E%2E/comfyui/start',
      '/jobs/../comfyui/start',
      '/jobs/.%2e/comfyui/start',
      '/x/y/%2e%2e/%2e%2e/comfyui/start',
      '/jobs\\..\\comfyui\\start',
      '/jobs/./../comfyui/start',
      '/comfyui/start/..',
    ];
    for (const t of targets) {
      const p = pathOf(t);
      assert.notEqual(p, '/comfyui/start', t);
      assert.equal(p.split('/').length, t.split('/').length, `${t}: the same segments (${p})`);
      assert.doesNotMatch(p, /(^|\/)\.\.?(\/|$)/, t);
    }
    assert.equal(pathOf('/jobs#/x'), '/jobs%23/x');
    assert.equal(pathOf('/health?k=1#/x'), '/health');
  });

  it('takes the path of an absolute-form target and gives * and authority-form a path no route has', () => {
    assert.equal(pathOf('http://evil.example/health?x=1'), '/health');
    assert.equal(pathOf('http://evil.example'), '/');
    assert.equal(pathOf('*'), '/*');
    assert.equal(pathOf('localhost:80'), '/localhost%3A80');
  });

  it('always yields a URL that parses', () => {
    for (const t of ['/%', '/a b', '//x', '/ü', '?x', 'http://[::1', '%', '/%zz/..', `/${'x'.repeat(20_000)}`]) {
      assert.doesNotThrow(() => pathOf(t), t);
    }
  });
});
