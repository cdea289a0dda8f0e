// download(): the first MiB written synchronously, the rest through the pool; either way the
// file lands whole under its name with the right size and sha256, and a failed body leaves nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { download, SYNC_DOWNLOAD_BYTES } from '../../lib/comfyui/download.ts';
import { tempDir } from '../support/context.ts';

const chunks = (sizes: number[]) => sizes.map((n, i) => Buffer.alloc(n, i + 1));

describe('download', () => {
  for (const [what, sizes] of [
    ['a small image (one chunk)', [2048]],
    ['a file across the synchronous part (chunks straddle it)', [SYNC_DOWNLOAD_BYTES - 100, 300, 64 * 1024, 5]],
    ['an empty file', []],
  ] as const) {
    it(`${what}: whole file, size and sha256, into a folder it makes, no temp file`, async () => {
      const dir = tempDir('vidax-download-');
      const dest = join(dir, 'outputs', 'out.png');
      const parts = chunks([...sizes]);
      const got = await download(Readable.from(parts), dest);
      const all = Buffer.concat(parts);
      assert.deepEqual(readFileSync(dest), all);
      assert.deepEqual(got, { path: dest, bytes: all.length, sha256: createHash('sha256').update(all).digest('hex') });
      assert.deepEqual(readdirSync(join(dir, 'outputs')), ['out.png']);
    });
  }

  it('a body that fails part way (before and after the synchronous part) rejects and leaves no file', async () => {
    for (const before of [10, SYNC_DOWNLOAD_BYTES + 10]) {
      const dir = tempDir('vidax-download-');
      const body = Readable.from((async function* () {
        yield Buffer.alloc(before, 1);
        throw new Error('connection reset');
      })());
      await assert.rejects(download(body, join(dir, 'out.png')), /connection reset/);
      assert.deepEqual(readdirSync(dir), []);
    }
  });
});
