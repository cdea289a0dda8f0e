// Claims the README makes about the shipped files (issue 9 item 16): config/vidax.json lists
// every default of the config module, and the Node versions the README states are package.json's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { ConfigSchema, parseConfig } from '../lib/config.ts';
import { TEST_KEY } from './support/context.ts';

const ROOT = join(import.meta.dirname, '..');
const CONFIG_DIR = join(ROOT, 'config');
const shipped = () => JSON.parse(readFileSync(join(CONFIG_DIR, 'vidax.json'), 'utf8')) as Record<string, unknown>;
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Every default the config module has that `file` does not list with the same value, as dot paths. */
function missingDefaults(defaults: Record<string, unknown>, file: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(defaults).flatMap(([key, value]) => {
    const path = `${prefix}${key}`;
    if (!(key in file)) return [`${path} (missing)`];
    if (isObject(value) && isObject(file[key])) return missingDefaults(value, file[key], `${path}.`);
    if (path === 'runsDir') return []; // compared as the folder it names, below
    try {
      assert.deepEqual(file[key], value);
      return [];
    } catch {
      return [`${path} (${JSON.stringify(file[key])}, default ${JSON.stringify(value)})`];
    }
  });
}

describe('README claims', () => {
  it('the shipped config/vidax.json lists every default of the config module, recursively', () => {
    const defaults = v.parse(ConfigSchema, {}) as Record<string, unknown>; // every field with a default, nested ones included
    assert.ok(isObject(defaults.inputs) && 'maxFileBytes' in defaults.inputs, 'the defaults are read recursively');
    assert.deepEqual(missingDefaults(defaults, shipped()), []);
    // Its runsDir is written relative to config/ and names the default's folder (the repo's runs/).
    const file = parseConfig({ ...shipped(), apiKey: TEST_KEY }, CONFIG_DIR);
    assert.equal(file.runsDir, resolve(ROOT, defaults.runsDir as string));
    assert.equal('apiKey' in shipped(), false, 'the shipped file holds no key');
  });

  it('the comparison fails for a default the file does not list', () => {
    const file = shipped();
    delete (file.comfyui as Record<string, unknown>).healthTimeoutMs;
    assert.deepEqual(missingDefaults(v.parse(ConfigSchema, {}) as Record<string, unknown>, file), ['comfyui.healthTimeoutMs (missing)']);
  });

  it('the Node versions the README states are package.json engines (and the build target)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const floor = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(pkg.engines.node);
    assert.ok(floor, `engines.node is a floor: ${pkg.engines.node}`);
    const [, major, minor, patch] = floor;
    assert.ok(readme.includes(`Node.js ${major}.${minor}.${patch} or newer`), 'the first screen states the floor');
    assert.ok(readme.includes(`\`engines: ${pkg.engines.node}\``), 'Node versions quotes engines');
    const stated = /pass(?:es)? on Node (\d+), (\d+) and (\d+)/.exec(readme);
    assert.ok(stated, 'Node versions lists the versions the tests pass on');
    assert.equal(stated[1], major, 'the oldest version stated is the engines floor');
    // The bundle targets the floor too (esbuild --target=node<major>).
    for (const target of pkg.scripts.build?.match(/--target=node\d+/g) ?? []) assert.equal(target, `--target=node${major}`);
    // CI's extra leg runs a version the README names.
    const leg = /node@(\d+)/.exec(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'));
    assert.ok(leg && stated.slice(1).includes(leg[1] as string), `CI's node@${leg?.[1]} is a stated version`);
  });
});
