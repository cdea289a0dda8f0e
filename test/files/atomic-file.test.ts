// writeFileAtomic: small writes (synchronous create/write/rename, fdatasync on the pool) and large
// ones (all on the pool) both replace the file whole and leave no temp file, also when they fail.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SYNC_WRITE_MAX_BYTES, writeFileAtomic } from '../../lib/files/atomic-file.ts';
import { tempDir } from '../support/context.ts';

describe('writeFileAtomic', () => {
  it('replaces a file whole, below and above the synchronous-write size, strings and bytes, leaving no temp file', async () => {
    const dir = tempDir('vidax-atomic-');
    const path = join(dir, 'manifest.json');
    writeFileSync(path, 'old');
    const small = 'é'.repeat(10);
    const edge = Buffer.alloc(SYNC_WRITE_MAX_BYTES, 7);
    const large = 'x'.repeat(SYNC_WRITE_MAX_BYTES * 3 + 5);
    // 'é' is 2 bytes in UTF-8: a string just under the limit in characters but over it in bytes
    const wide = 'é'.repeat(SYNC_WRITE_MAX_BYTES - 1);
    for (const data of [small, edge, large, wide, new Uint8Array([1, 2, 3])]) {
      await writeFileAtomic(path, data);
      assert.deepEqual(readFileSync(path), typeof data === 'string' ? Buffer.from(data) : Buffer.from(data));
      assert.deepEqual(readdirSync(dir), ['manifest.json']);
    }
  });

  it('rejects (no throw) when the target cannot be written, and leaves the old file and no temp file', async () => {
    const dir = tempDir('vidax-atomic-');
    const path = join(dir, 'manifest.json');
    writeFileSync(path, 'old');
    mkdirSync(join(dir, 'taken'));
    // renaming a file over a directory fails (EISDIR): after the temp file was written and synced
    for (const data of ['small', 'y'.repeat(SYNC_WRITE_MAX_BYTES + 1)]) {
      const pending = writeFileAtomic(join(dir, 'taken'), data);
      assert.ok(pending instanceof Promise);
      await assert.rejects(pending, (err: NodeJS.ErrnoException) => err.code === 'EISDIR');
      assert.deepEqual(readdirSync(dir).sort(), ['manifest.json', 'taken']);
    }
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'x.json'), 'small'), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
    assert.equal(readFileSync(path, 'utf8'), 'old');
  });
});
