// GET /jobs over a real run store: newest first, status filter, limit, cursor paging, the index
// journal across restarts (and its one-time build from an older runs dir), bad query values.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import listFn from '../../functions/jobs.get.ts';
import type { Job } from '../../lib/jobs/schema.ts';
import { createRunStore } from '../../lib/runs/store.ts';
import { authed, baseContext, tempDir } from '../support/context.ts';
import { fixtureWorkflow } from '../support/jobs.ts';

const job = (): Job => ({ workflow: fixtureWorkflow('workflow-single') as Job['workflow'] });

async function seed(runsDir: string, n: number) {
  const runs = createRunStore({ runsDir });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await runs.create(job())).run_id);
  return { runs, ids };
}

function lister(runs: ReturnType<typeof createRunStore>) {
  const ctx = { ...baseContext(), runs };
  return async (query = '') => {
    const res = await listFn.fetch(new Request(`http://x/jobs${query}`, authed()), ctx);
    return { status: res.status, body: await res.json() };
  };
}

describe('GET /jobs (run list index)', () => {
  it('lists newest first with the summary of GET /jobs/:id; filters by status; pages with an opaque cursor', async () => {
    const runsDir = tempDir();
    const { runs, ids } = await seed(runsDir, 7);
    await runs.update(ids[1] as string, (m) => {
      m.run_status = 'running';
    });
    await runs.update(ids[4] as string, (m) => {
      m.run_status = 'failed';
    });
    const list = lister(runs);
    const all = await list();
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.items.map((r: { run_id: string }) => r.run_id), [...ids].reverse());
    assert.equal(all.body.next_cursor, null);
    const one = all.body.items[0];
    assert.deepEqual(Object.keys(one).sort(), ['artifacts_url', 'created_at', 'error', 'exit_status', 'manifest', 'manifest_url', 'phases', 'run_id', 'run_status', 'updated_at', 'workdir']);
    assert.deepEqual((await list('?status=running')).body.items.map((r: { run_id: string }) => r.run_id), [ids[1]]);
    assert.deepEqual((await list('?status=queued')).body.items.length, 5);
    // Pages of 3: 6,5,4 / 3,2,1 / 0, each once, even with a new run created between pages.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { body: { items: { run_id: string }[]; next_cursor: string | null } } = await list(`?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((r) => r.run_id));
      cursor = page.body.next_cursor;
      if (pages++ === 0) await runs.create(job()); // newer than every page: not in this walk
    } while (cursor);
    assert.deepEqual(seen, [...ids].reverse());
    assert.equal(pages, 3);
  });

  it('keeps the index across restarts (journal), compacts it, and builds it once from an older runs dir', async () => {
    const runsDir = tempDir();
    const { runs, ids } = await seed(runsDir, 3);
    await runs.update(ids[0] as string, (m) => {
      m.run_status = 'completed';
    });
    await runs.close();
    const again = createRunStore({ runsDir });
    assert.deepEqual((await lister(again)('?status=completed')).body.items.map((r: { run_id: string }) => r.run_id), [ids[0]]);
    await again.close();
    // A runs dir from before the index: no journal, the manifests are read once.
    rmSync(join(runsDir, '.runs-index'));
    const migrated = createRunStore({ runsDir });
    assert.deepEqual((await lister(migrated)()).body.items.map((r: { run_id: string }) => r.run_id), [...ids].reverse());
    assert.equal(readFileSync(join(runsDir, '.runs-index'), 'utf8').trim().split('\n').length, 3);
    await migrated.close();
    // A journal much longer than its runs is rewritten at start.
    appendFileSync(join(runsDir, '.runs-index'), `${ids[1]} r\n${ids[1]} q\n`.repeat(700));
    const compacted = createRunStore({ runsDir });
    assert.equal(readFileSync(join(runsDir, '.runs-index'), 'utf8').trim().split('\n').length, 3);
    assert.equal((await lister(compacted)('?status=queued')).body.items.length, 2);
  });

  it('start-up reconciles the journal with the manifests (a crash between a write and its append); a vanished run is dropped', async () => {
    const runsDir = tempDir();
    const { runs, ids } = await seed(runsDir, 3);
    await runs.close();
    // The journal says queued, the manifest (written before a crash) says completed, no marker.
    const m = JSON.parse(readFileSync(join(runsDir, ids[2] as string, 'manifest.json'), 'utf8'));
    writeFileSync(join(runsDir, ids[2] as string, 'manifest.json'), JSON.stringify({ ...m, run_status: 'completed' }));
    rmSync(join(runsDir, '.active', `${ids[2]}.queued`));
    rmSync(join(runsDir, ids[1] as string), { recursive: true });
    const after = createRunStore({ runsDir });
    await after.recover();
    const list = lister(after);
    assert.deepEqual((await list('?status=completed')).body.items.map((r: { run_id: string }) => r.run_id), [ids[2]]);
    assert.deepEqual((await list('?status=queued')).body.items.map((r: { run_id: string }) => r.run_id), [ids[0]]);
  });

  it('400 invalid_query for a bad status, limit or cursor, naming each; nothing else', async () => {
    const { runs } = await seed(tempDir(), 1);
    const list = lister(runs);
    const bad = ['?limit=-1', '?limit=0', '?limit=1e9', '?limit=501', '?limit=abc', '?limit=2.5', '?status=done', '?cursor=garbage', '?cursor=%00%ff',
      `?cursor=${Buffer.from('{"v":1,"before":"../../etc"}').toString('base64url')}`, `?cursor=${'A'.repeat(5000)}`];
    for (const q of bad) {
      const res = await list(q);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error.code, 'invalid_query', q);
      assert.ok(res.body.error.details.length >= 1, q);
    }
    const three = await list('?limit=abc&status=x&cursor=y');
    assert.deepEqual(three.body.error.details.map((d: { name: string }) => d.name), ['status', 'limit', 'cursor']);
    assert.equal((await list('?limit=500&unknown=1')).status, 200);
  });
});
