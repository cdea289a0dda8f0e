import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { VidaxError } from '../../lib/errors.ts';
import type { Job } from '../../lib/jobs/schema.ts';
import { type Manifest, PHASES } from '../../lib/runs/manifest.ts';
import { createRunStore, type RunStore } from '../../lib/runs/store.ts';
import { tempDir } from '../support/context.ts';
import { fixtureWorkflow } from '../support/jobs.ts';

const job = (extra: Partial<Job> = {}): Job => ({ workflow: fixtureWorkflow('workflow-single') as Job['workflow'], ...extra });
const code = (c: string) => (err: unknown) => err instanceof VidaxError && err.code === c;
const activeMarkers = (runsDir: string) => readdirSync(join(runsDir, '.active')).sort();

/** A start at create's claim of the comfyui phase: running, prepare done, the prompt id minted. */
const claim = (m: Manifest) => {
  m.run_status = 'running';
  m.phases.prepare.status = 'completed';
  m.phases.comfyui = { ...m.phases.comfyui, status: 'running', prompt_id: 'p-1' };
};
/** A run started at create (`"start": true`): claimed, with its workflow.json. */
const createStarted = (store: RunStore) => store.create(job(), undefined, undefined, () => ({ claim, workflow: '{}\n' }));
/** Puts started runs back to a crash inside their create: the `creating` marker, not `running`. */
const backToCreating = (runsDir: string, runs: { run_id: string }[]) => {
  for (const r of runs) {
    rmSync(join(runsDir, '.active', `${r.run_id}.running`));
    writeFileSync(join(runsDir, '.active', `${r.run_id}.creating`), '');
  }
};

describe('run store', () => {
  it('creates a run: job.json as submitted, a queued manifest, a run.created event, an index marker', async () => {
    const runsDir = tempDir();
    const store = createRunStore({ runsDir });
    const submitted = job({ name: 'take 1', metadata: { shot: 3 } });
    const run = await store.create(submitted);
    const p = store.paths(run.run_id);
    assert.equal(run.workdir, join(runsDir, run.run_id));
    assert.equal(run.manifestPath, join(run.workdir, 'manifest.json'));
    assert.deepEqual(JSON.parse(readFileSync(p.job, 'utf8')), submitted);
    const m = JSON.parse(readFileSync(p.manifest, 'utf8'));
    assert.equal(m.run_id, run.run_id);
    assert.equal(m.run_status, 'queued');
    assert.equal(m.exit_status, null);
    assert.equal(m.name, 'take 1');
    assert.deepEqual(m.metadata, { shot: 3 });
    assert.equal(m.workdir, run.workdir);
    assert.deepEqual(Object.keys(m.phases), [...PHASES]);
    for (const phase of Object.values(m.phases)) {
      assert.deepEqual(phase, { status: 'queued', started_at: null, finished_at: null, error: null });
    }
    assert.deepEqual(m.artifacts, []);
    assert.equal(m.error, null);
    assert.match(m.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const lines = readFileSync(p.events, 'utf8').split('\n');
    assert.equal(lines.length, 2);
    assert.equal(lines[1], '');
    const first = JSON.parse(lines[0] ?? '');
    assert.deepEqual({ seq: first.seq, type: first.type, run_id: first.run_id }, { seq: 1, type: 'run.created', run_id: run.run_id });
    assert.deepEqual(await store.listActive(), [run.run_id]);
    assert.deepEqual(activeMarkers(runsDir), [`${run.run_id}.queued`]);
    assert.deepEqual(await store.readJob(run.run_id), submitted);
  });

  it('gives 404 codes for unknown runs, malformed ids and missing files', async () => {
    const runsDir = tempDir();
    const store = createRunStore({ runsDir });
    for (const id of ['../x', '/etc', '..', 'r_0000000000000_x/../..', '']) {
      await assert.rejects(store.get(id), code('run_not_found'), id);
      assert.throws(() => store.paths(id), code('run_not_found'));
      await assert.rejects(store.update(id, () => {}), code('run_not_found'));
      await assert.rejects(store.appendEvent(id, 'x'), code('run_not_found'));
      await assert.rejects(store.readJob(id), code('run_not_found'));
    }
    await assert.rejects(store.get('r_0000000000000_x'), code('run_not_found'));
    const run = await store.create(job());
    rmSync(store.paths(run.run_id).manifest);
    rmSync(store.paths(run.run_id).events);
    const fresh = createRunStore({ runsDir }); // no cache
    await assert.rejects(fresh.get(run.run_id), code('manifest_not_found'));
    await assert.rejects(fresh.openFile(run.run_id, 'manifest'), code('manifest_not_found'));
    await assert.rejects(fresh.openFile(run.run_id, 'events'), code('logs_not_found'));
    await assert.rejects(fresh.openFile('r_0000000000000_y', 'events'), code('run_not_found'));
  });

  it('serializes updates per run: none is lost, a throwing mutator writes nothing, one of concurrent starts wins', async () => {
    const store = createRunStore({ runsDir: tempDir() });
    const { run_id: id } = await store.create(job());
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.update(id, (m) => {
          m.phases.comfyui.progress = i;
          m.artifacts.push({ path: `outputs/${i}.png`, bytes: i, sha256: 'x', phase: 'comfyui' });
        }),
      ),
    );
    assert.equal((await store.get(id)).artifacts.length, 50);
    const before = readFileSync(store.paths(id).manifest, 'utf8');
    await assert.rejects(
      store.update(id, (m) => {
        m.run_status = 'failed';
        throw new VidaxError('nope', 409, 'no');
      }),
      code('nope'),
    );
    assert.equal(readFileSync(store.paths(id).manifest, 'utf8'), before, 'nothing written');
    assert.equal((await store.get(id)).run_status, 'queued', 'the cache is untouched too');
    const starts = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        store.update(id, (m) => {
          if (m.run_status !== 'queued') throw new VidaxError('run_already_started', 409, 'started');
          m.run_status = 'running';
        }),
      ),
    );
    assert.equal(starts.filter((s) => s.status === 'fulfilled').length, 1);
    assert.equal(starts.filter((s) => s.status === 'rejected' && code('run_already_started')(s.reason)).length, 9);
    assert.deepEqual(await store.listActive('running'), [id]);
    assert.deepEqual(await store.listActive('queued'), []);
    const done = await store.update(id, (m) => {
      m.run_status = 'completed';
      m.exit_status = 'success';
    });
    assert.ok(done.updated_at >= done.created_at);
    assert.deepEqual(await store.listActive(), [], 'a finished run leaves the index');
    assert.throws(() => {
      (done as { run_status: string }).run_status = 'queued';
    }, TypeError, 'cached manifests are frozen');
  });

  it('never lets a reader see a partial manifest while updates run', async () => {
    const store = createRunStore({ runsDir: tempDir() });
    const { run_id: id } = await store.create(job({ metadata: { pad: 'p'.repeat(30_000) } }));
    const path = store.paths(id).manifest;
    let writing = true;
    const writes = (async () => {
      for (let i = 0; i < 100; i += 1) {
        await store.update(id, (m) => {
          m.phases.comfyui.progress = { step: i, pad: 'x'.repeat(i * 100) };
        });
      }
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      JSON.parse(await readFile(path, 'utf8')); // throws on a partial file
      reads += 1;
    }
    await writes;
    assert.ok(reads > 0);
    assert.equal((JSON.parse(readFileSync(path, 'utf8')).phases.comfyui.progress as { step: number }).step, 99);
    assert.deepEqual(readdirSync(store.paths(id).workdir).filter((n) => n.endsWith('.tmp')), [], 'no temp file left');
  });

  it('appends events with a per-run seq that survives a restart and a torn last line', async () => {
    const runsDir = tempDir();
    const store = createRunStore({ runsDir });
    const { run_id: id } = await store.create(job());
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => store.appendEvent(id, 'comfyui.progress', { value: i, seq: -1, ts: 'x' })));
    assert.deepEqual(sent.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 2));
    await store.close();
    appendFileSync(store.paths(id).events, '{"ts":"2026-01-01T00:00:00.000Z","seq":22,"type":"torn'); // crash mid-append
    const restarted = createRunStore({ runsDir });
    const next = await restarted.appendEvent(id, 'run.started');
    assert.equal(next.seq, 22, 'seq continues after the last complete line');
    const events = await restarted.readEvents(id);
    assert.deepEqual(events.map((e) => e.seq), Array.from({ length: 22 }, (_, i) => i + 1));
    assert.equal(events.at(-1)?.type, 'run.started');
    const lines = readFileSync(store.paths(id).events, 'utf8').split('\n');
    assert.equal(JSON.parse(lines.at(-2) ?? '').type, 'run.started', 'the new event is on a line of its own');
  });

  it('reads every run after a restart, with a cache smaller than the number of runs', async () => {
    const runsDir = tempDir();
    const store = createRunStore({ runsDir, cacheSize: 5 });
    const ids = [];
    for (let i = 0; i < 30; i += 1) ids.push((await store.create(job({ name: `n${i}` }))).run_id);
    await store.update(ids[0] ?? '', (m) => {
      m.run_status = 'running';
    });
    assert.equal((await store.get(ids[0] ?? '')).run_status, 'running', 'evicted runs come back from disk');
    const restarted = createRunStore({ runsDir, cacheSize: 5 });
    for (const [i, id] of ids.entries()) assert.equal((await restarted.get(id)).name, `n${i}`);
    assert.deepEqual(await restarted.listActive(), ids);
    assert.deepEqual(await restarted.listActive('running'), [ids[0]]);
  });

  it('recover() removes half-created runs and temp files a crash left, and repairs the index', async () => {
    const runsDir = tempDir();
    const store = createRunStore({ runsDir });
    const queued = await store.create(job());
    const running = await store.create(job());
    await store.update(running.run_id, (m) => {
      m.run_status = 'running';
    });
    // a create that died after mkdir and job.json
    const half = 'r_0000000000001_dead';
    writeFileSync(join(runsDir, '.active', `${half}.creating`), '');
    writeFileSync(join(runsDir, '.active', 'garbage-name'), '');
    // a create that died after every write but before its marker left `creating`: complete, kept
    const late = await store.create(job());
    rmSync(join(runsDir, '.active', `${late.run_id}.queued`));
    writeFileSync(join(runsDir, '.active', `${late.run_id}.creating`), '');
    const halfDir = join(runsDir, half);
    rmSync(halfDir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(join(halfDir, 'logs'), { recursive: true }));
    writeFileSync(join(halfDir, 'job.json'), '{}');
    // an update that died mid-write on the running run, and one on the queued run (its marker moved to running first)
    writeFileSync(join(running.workdir, '.manifest.json.999.1.tmp'), '{"part');
    writeFileSync(join(queued.workdir, '.manifest.json.999.2.tmp'), '{"part');
    rmSync(join(runsDir, '.active', `${queued.run_id}.queued`));
    writeFileSync(join(runsDir, '.active', `${queued.run_id}.running`), '');

    const restarted = createRunStore({ runsDir });
    const result = await restarted.recover();
    assert.deepEqual(result.removed, [half]);
    assert.equal(result.tempFiles, 2);
    assert.equal(existsSync(halfDir), false);
    assert.deepEqual(await restarted.listActive('queued'), [queued.run_id, late.run_id]);
    assert.deepEqual(await restarted.listActive('running'), [running.run_id]);
    assert.equal((await restarted.get(queued.run_id)).run_status, 'queued');
  });

  it('a run started at create (`"start": true`): claim and workflow.json in the create\'s one write sequence; a crash before all of it is durable leaves nothing recover() keeps', async () => {
    const runsDir = tempDir();
    const store = createRunStore({ runsDir });
    const seen: string[] = [];
    const run = await store.create(job(), undefined, undefined, (id) => {
      seen.push(id);
      return { claim, workflow: `{"graph":"${id}"}\n` };
    });
    assert.deepEqual(seen, [run.run_id], 'asked once, with the minted id');
    const p = store.paths(run.run_id);
    const onDisk = JSON.parse(readFileSync(p.manifest, 'utf8'));
    assert.deepEqual([onDisk.run_status, onDisk.phases.comfyui.status, onDisk.phases.comfyui.prompt_id], ['running', 'running', 'p-1']);
    assert.equal(run.manifest.run_status, 'running');
    assert.equal(readFileSync(p.workflow, 'utf8'), `{"graph":"${run.run_id}"}\n`);
    assert.deepEqual(activeMarkers(runsDir), [`${run.run_id}.running`]);
    assert.deepEqual(await store.listActive('running'), [run.run_id]);
    assert.deepEqual((await store.listRuns({ status: 'running', limit: 10 })).runs.map((m) => m.run_id), [run.run_id]);

    // Crashes inside that sequence (the `creating` marker still there): manifest and job.json
    // durable but no workflow.json → removed; everything durable → kept, running.
    const torn = await createStarted(store);
    const whole = await createStarted(store);
    backToCreating(runsDir, [torn, whole]);
    rmSync(store.paths(torn.run_id).workflow);
    writeFileSync(join(torn.workdir, '.workflow.json.999.1.tmp'), '{"pa');
    const restarted = createRunStore({ runsDir });
    const result = await restarted.recover();
    assert.deepEqual(result.removed, [torn.run_id]);
    assert.equal(existsSync(torn.workdir), false);
    await assert.rejects(restarted.get(torn.run_id), code('run_not_found'));
    assert.deepEqual(await restarted.listActive('running'), [run.run_id, whole.run_id]);
    assert.equal((await restarted.get(whole.run_id)).run_status, 'running');
  });

  it('a crash part way through removing a half-created run leaves nothing the next recover() takes for a run; a run missing its logs/ still logs', async () => {
    const runsDir = tempDir();
    const store = createRunStore({ runsDir });
    // Killed before its run.created line: every other file of a started-at-create run is there.
    const noLog = await createStarted(store);
    // Killed inside `rm -r` of a half-created run: its logs/ went first, its manifest is left.
    const halfRemoved = await createStarted(store);
    backToCreating(runsDir, [noLog, halfRemoved]);
    rmSync(store.paths(noLog.run_id).events);
    rmSync(store.paths(halfRemoved.run_id).logs, { recursive: true });
    const restarted = createRunStore({ runsDir });
    const result = await restarted.recover();
    assert.deepEqual(result.removed.sort(), [noLog.run_id, halfRemoved.run_id].sort(), 'never acknowledged, not whole: removed');
    assert.deepEqual(activeMarkers(runsDir), []);
    for (const r of [noLog, halfRemoved]) {
      assert.equal(existsSync(r.workdir), false);
      await assert.rejects(restarted.get(r.run_id), code('run_not_found'));
    }

    // Killed before the run list heard of it (its create never got that far): recover() reads
    // its manifest, removes the run, and must not keep serving that read from its cache.
    const elsewhere = createRunStore({ runsDir: join(tempDir(), 'runs') });
    const unlisted = await createStarted(elsewhere);
    await elsewhere.close();
    cpSync(unlisted.workdir, join(runsDir, unlisted.run_id), { recursive: true });
    rmSync(join(runsDir, unlisted.run_id, 'logs', 'events.jsonl'));
    writeFileSync(join(runsDir, '.active', `${unlisted.run_id}.creating`), '');
    const third = createRunStore({ runsDir });
    assert.deepEqual((await third.recover()).removed, [unlisted.run_id]);
    await assert.rejects(third.get(unlisted.run_id), code('run_not_found'), 'not served from the cache recover() read it into');
    await third.close();

    // An acknowledged run whose logs/ folder is gone (an operator's cleanup): its next event
    // makes the folder again and lands, with seq 1 (the log is new).
    const acked = await restarted.create(job());
    rmSync(restarted.paths(acked.run_id).logs, { recursive: true });
    const again = createRunStore({ runsDir });
    const e = await again.appendEvent(acked.run_id, 'run.failed', { code: 'X' });
    assert.equal(e.seq, 1);
    assert.deepEqual(
      readFileSync(again.paths(acked.run_id).events, 'utf8').trim().split('\n').map((l) => JSON.parse(l).type),
      ['run.failed'],
    );
    // A run dir that is gone is not made again by an event.
    rmSync(acked.workdir, { recursive: true });
    await assert.rejects(again.appendEvent(acked.run_id, 'late'), { code: 'ENOENT' });
    assert.equal(existsSync(acked.workdir), false);
    await again.close();
  });
});
