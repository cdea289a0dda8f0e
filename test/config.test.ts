import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { TEST_KEY, tempDir } from './support/context.ts';

function withFile(contents: unknown): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'vidax.json'), typeof contents === 'string' ? contents : JSON.stringify(contents));
  return dir;
}

describe('config', () => {
  it('applies built-in defaults when no file exists', () => {
    const cwd = tempDir();
    const c = loadConfig({ env: { VIDAX_API_KEY: TEST_KEY }, cwd });
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8787);
    assert.equal(c.runsDir, join(cwd, 'runs'));
    assert.equal(c.maxBodyBytes, 32 * 1024 * 1024);
    assert.equal(c.comfyui.url, 'http://127.0.0.1:8188');
    assert.equal(c.comfyui.autoStart, true);
    assert.equal(c.comfyui.startTimeoutMs, 120_000);
    assert.equal(c.source, null);
  });

  it('the shipped config/vidax.json parses, holds no key and matches the defaults', () => {
    const c = loadConfig({ env: { VIDAX_API_KEY: TEST_KEY }, cwd: process.cwd() });
    assert.equal(c.apiKey, TEST_KEY);
    assert.equal(c.port, 8787);
    assert.match(c.source ?? '', /config\/vidax\.json$/);
    assert.throws(() => loadConfig({ env: {}, cwd: process.cwd() }), /no API key configured/);
  });

  it('layers file then env, env winning; relative paths resolve against the file folder', () => {
    const dir = withFile({ apiKey: 'file-key-0123456789', port: 9000, runsDir: 'data/runs', comfyui: { cwd: '../comfy' } });
    const fromFile = loadConfig({ env: {}, cwd: dir });
    assert.equal(fromFile.apiKey, 'file-key-0123456789');
    assert.equal(fromFile.port, 9000);
    assert.equal(fromFile.runsDir, join(dir, 'config', 'data', 'runs'));
    assert.equal(fromFile.comfyui.cwd, join(dir, 'comfy'));
    const env = {
      VIDAX_API_KEY: TEST_KEY,
      VIDAX_PORT: '9100',
      VIDAX_HOST: '0.0.0.0',
      VIDAX_RUNS_DIR: '/srv/runs',
      VIDAX_COMFYUI_URL: 'http://127.0.0.1:9999',
    };
    const c = loadConfig({ env, cwd: dir });
    assert.deepEqual([c.apiKey, c.port, c.host, c.runsDir, c.comfyui.url], [TEST_KEY, 9100, '0.0.0.0', '/srv/runs', 'http://127.0.0.1:9999']);
    assert.equal(c.comfyui.cwd, join(dir, 'comfy'), 'env override of the url keeps the other comfyui fields');
  });

  it('a relative VIDAX_RUNS_DIR resolves against the working directory; the file\'s own paths against its folder', () => {
    const dir = withFile({ apiKey: TEST_KEY, runsDir: 'file-runs' });
    assert.equal(loadConfig({ env: {}, cwd: dir }).runsDir, join(dir, 'config', 'file-runs'));
    const c = loadConfig({ env: { VIDAX_RUNS_DIR: './myruns' }, cwd: dir });
    assert.equal(c.runsDir, join(dir, 'myruns'), 'not config/myruns');
    assert.equal(c.comfyui.logFile, join(dir, 'comfyui.log'), 'the ComfyUI log follows the runs dir');
  });

  it('says what is wrong in plain words, naming the env variable a value came from, each problem once', () => {
    const problems = (env: Record<string, string>, cwd = tempDir()) => {
      try {
        loadConfig({ env: { VIDAX_API_KEY: TEST_KEY, ...env }, cwd });
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems;
      }
      return [];
    };
    assert.deepEqual(problems({ VIDAX_PORT: 'abc' }), ['VIDAX_PORT=abc: not a port number (0 to 65535)']);
    assert.deepEqual(problems({ VIDAX_PORT: '99999' }), ['VIDAX_PORT=99999: not a port number (0 to 65535)']);
    assert.deepEqual(problems({ VIDAX_COMFYUI_URL: 'notaurl' }), ['VIDAX_COMFYUI_URL=notaurl: not a URL (e.g. http://127.0.0.1:8188)']);
    const short = problems({ VIDAX_API_KEY: 'shortkey' });
    assert.deepEqual(short.map((p) => p.split(':')[0]), ['VIDAX_API_KEY sets apiKey']);
    assert.ok(!short[0]?.includes('shortkey'), 'a key is never echoed');
    const dir = withFile({ port: 'eighty', comfyui: { url: 'ftp://x', startTimeoutMs: 1.5, autoStart: 'yes' }, autostart: true });
    assert.deepEqual([...problems({}, dir)].sort(), [
      'autostart: unknown setting',
      'comfyui.autoStart: must be true or false',
      'comfyui.startTimeoutMs: must be a whole number',
      'comfyui.url: must be an http(s) URL',
      'port: not a port number (0 to 65535)',
    ]);
    assert.throws(() => loadConfig({ env: {}, cwd: dir }), /invalid VIDAX configuration \(config file .*vidax\.json\)/);
  });

  it('reads the file named by VIDAX_CONFIG', () => {
    const dir = withFile({ port: 1234 });
    const c = loadConfig({ env: { VIDAX_API_KEY: TEST_KEY, VIDAX_CONFIG: 'config/vidax.json' }, cwd: dir });
    assert.equal(c.port, 1234);
    assert.throws(() => loadConfig({ env: { VIDAX_API_KEY: TEST_KEY, VIDAX_CONFIG: 'nope.json' }, cwd: dir }), ConfigError);
  });

  it('names every bad field in one message, unknown fields included', () => {
    const dir = withFile({ apiKey: TEST_KEY, port: 'eighty', autostart: true, comfyui: { autostart: false, startTimeoutMs: -1 } });
    try {
      loadConfig({ env: {}, cwd: dir });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const msg = err.message;
      for (const field of ['port', 'autostart', 'comfyui.autostart', 'comfyui.startTimeoutMs']) {
        assert.ok(msg.includes(field), `message names ${field}: ${msg}`);
      }
      assert.equal(err.problems.length, 4);
    }
  });

  it('refuses a missing or short key and says how to set one', () => {
    assert.throws(() => loadConfig({ env: {}, cwd: tempDir() }), /VIDAX_API_KEY/);
    assert.throws(() => loadConfig({ env: { VIDAX_API_KEY: 'short' }, cwd: tempDir() }), /too short \(5 characters\)/);
  });

  it('refuses keys no request could match, or trivially weak ones, at start, with the reason', () => {
    const refused: [string, RegExp][] = [
      [' '.repeat(16), /whitespace/],
      [`${TEST_KEY} `, /whitespace/],
      [`\t${TEST_KEY}`, /whitespace/],
      [`${TEST_KEY}\n`, /whitespace/],
      [`test-key\n0123456789`, /control character/],
      [`test-key-0123456789-ключ`, /outside Latin-1/],
      [`test-key-0123456789-🔑`, /outside Latin-1/],
      ['a'.repeat(32), /one character repeated/],
    ];
    for (const [key, why] of refused) {
      assert.throws(() => loadConfig({ env: { VIDAX_API_KEY: key }, cwd: tempDir() }), why, JSON.stringify(key));
      assert.throws(() => loadConfig({ env: {}, cwd: withFile({ apiKey: key }) }), why, `file: ${JSON.stringify(key)}`);
    }
    // Inner spaces and Latin-1 letters travel in a header as they are: accepted.
    for (const key of ['correct horse battery staple', 'clé-de-sécurité-0123']) {
      assert.equal(loadConfig({ env: { VIDAX_API_KEY: key }, cwd: tempDir() }).apiKey, key);
    }
  });

  it('reports a config file that is not JSON', () => {
    assert.throws(() => loadConfig({ env: { VIDAX_API_KEY: TEST_KEY }, cwd: withFile('{nope') }), /vidax\.json/);
  });

  it('is frozen', () => {
    const c = loadConfig({ env: { VIDAX_API_KEY: TEST_KEY }, cwd: tempDir() });
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.comfyui) && Object.isFrozen(c.comfyui.command));
  });
});
