import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createEventLog } from '../../lib/runs/event-log.ts';
import { tempDir } from '../support/context.ts';

const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seq: number; type: string; n?: number });

describe('event log', () => {
  it('appends made while one is written land together, each with its own seq, in order, each resolving once its line is in the file', async () => {
    const path = join(tempDir(), 'events.jsonl');
    const log = createEventLog();
    log.fresh('r');
    const first = log.append('r', path, 'a.first');
    const burst = Array.from({ length: 50 }, (_, n) => log.append('r', path, 'b.burst', { n }).then((e) => {
      assert.ok(lines(path).some((l) => l.seq === e.seq), 'its line is in the file when it resolves');
      return e;
    }));
    assert.equal((await first).seq, 1);
    const got = await Promise.all(burst);
    assert.deepEqual(got.map((e) => e.seq), Array.from({ length: 50 }, (_, i) => i + 2));
    assert.deepEqual(lines(path).map((l) => [l.seq, l.n ?? null]), [[1, null], ...Array.from({ length: 50 }, (_, n) => [n + 2, n])]);
    await log.drain();
    assert.equal((await log.append('r', path, 'c.after')).seq, 52);
  });

  it('a failed write rejects every append of its batch; the next append re-reads the file and goes on', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.jsonl');
    writeFileSync(path, '{"ts":"x","seq":7,"type":"old"}\n{"torn');
    const log = createEventLog();
    const ok = await log.append('r', path, 'after.torn');
    assert.equal(ok.seq, 8);
    rmSync(path);
    mkdirSync(path); // not a file: the write fails
    const failing = [log.append('r', path, 'x'), log.append('r', path, 'y')];
    for (const p of failing) await assert.rejects(p);
    rmSync(path, { recursive: true });
    writeFileSync(path, '{"ts":"x","seq":9,"type":"old"}\n');
    assert.equal((await log.append('r', path, 'z')).seq, 10);
    await log.drain();
  });
});
