import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { ComfyUIError } from '../../lib/comfyui/errors.ts';
import type { Job } from '../../lib/jobs/schema.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import type { Manifest } from '../../lib/runs/manifest.ts';
import { createRunner, type RunnerDeps } from '../../lib/runner/runner.ts';
import { FakeComfyUIClient } from '../fakes/comfyui-client.ts';
import { FakeEventStream } from '../fakes/event-stream.ts';
import { FakeProcessManager } from '../fakes/process-manager.ts';
import { fakeMedia } from '../fakes/media.ts';
import { FakeRunStore } from '../fakes/run-store.ts';

/**
 * The runner's decisions, driven with fakes (test/fakes) and mock timers: no ComfyUI, no
 * socket, no waiting. Polls every 1 s, ComfyUI unreachable for 15 s is a crash, recovery looks
 * twice 1.5 s apart (the runner's defaults).
 */
const JOB = {
  workflow: {
    '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'shot' } },
  },
  phases: { encode: { enabled: false } },
} as unknown as Job;

/** Lets every promise and I/O callback that is ready run (setImmediate is not mocked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

/** Moves the mocked clock `ms` forward in steps, letting the runner react between them. */
async function advance(ms: number, step = 250): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await settle();
    mock.timers.tick(Math.min(step, ms - t));
  }
  await settle();
}

/** Asserts that no run is in flight any more (without waiting on the mocked clock). */
async function ended(runner: { settled(): Promise<void> }): Promise<void> {
  let done = false;
  void runner.settled().then(() => {
    done = true;
  });
  // Real file writes (the fake store's) finish in I/O turns whose count depends on the machine's
  // load: turn until settled, bounded by real time (performance.now is not mocked), not by a count.
  const deadline = performance.now() + 10_000;
  while (!done && performance.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.ok(done, 'the run has ended');
}

/** Runners of the current test: closed after it, so a failed test leaves no loop running into the next. */
const open: { close(): Promise<void> }[] = [];
async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((r) => r.close()));
  mock.timers.reset();
}

function setup(overrides: Partial<RunnerDeps> = {}) {
  const runs = new FakeRunStore();
  const comfyui = new FakeComfyUIClient();
  const events = new FakeEventStream();
  const processManager = new FakeProcessManager();
  const log = createMemoryLogger();
  const runner = createRunner({ runs, comfyui: comfyui, events, processManager, log, media: fakeMedia(), defaultTimeoutS: 600, eventsReadyMs: 100, ...overrides });
  open.push(runner);
  const manifest = (id: string) => runs.manifests.get(id) as Manifest;
  const promptOf = (id: string) => String(manifest(id).phases.comfyui.prompt_id);
  /** A queued run, started; resolves with its id and prompt id once the prompt is submitted. */
  const started = async (job: Job = JOB) => {
    const id = runs.seed(job);
    assert.deepEqual(await runner.start(id), { run_id: id, run_status: 'running' });
    await settle();
    return { id, promptId: promptOf(id) };
  };
  return { runs, comfyui, events, processManager, log, runner, manifest, promptOf, started };
}

describe('runner decisions (fakes, mock timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-01-01T00:00:00Z') }));
  afterEach(closeAll);

  it('fresh start: claims, submits once with the socket\'s client id, and completes when history says success', async () => {
    const t = setup();
    const { id, promptId } = await t.started();
    assert.equal(t.manifest(id).run_status, 'running');
    assert.equal(t.manifest(id).phases.prepare.status, 'completed');
    assert.ok(existsSync(t.runs.paths(id).workflow), 'workflow.json written');
    assert.equal(t.comfyui.count('submit'), 1);
    assert.equal(t.comfyui.prompts.get(promptId)?.input.clientId, 'fake-client-1');
    t.comfyui.run(promptId);
    await advance(1000);
    assert.equal(t.manifest(id).phases.comfyui.queue_position, 0);
    t.comfyui.succeed(promptId, { '2': { images: [{ filename: 'shot_00001_.png', subfolder: `vidax/${id}`, type: 'output' }] } });
    t.events.emit(promptId, 'execution_success');
    await advance(100);
    await ended(t.runner);
    const m = t.manifest(id);
    assert.deepEqual([m.run_status, m.exit_status, m.phases.comfyui.status, m.phases.encode.status], ['completed', 'success', 'completed', 'skipped']);
    assert.deepEqual(m.artifacts.map((a) => a.path), ['outputs/shot_00001_.png']);
    assert.ok(t.runs.eventTypes(id).includes('comfyui.output_downloaded'));
  });

  it('a prompt missing from queue and history once is not lost; missing twice, it is COMFYUI_PROMPT_LOST', async () => {
    const t = setup();
    const { id, promptId } = await t.started();
    t.comfyui.lose(promptId);
    await advance(1000); // first look (the socket is up: one poll interval first)
    assert.equal(t.manifest(id).run_status, 'running', 'one miss is not enough');
    assert.equal(t.comfyui.count('history'), 2, 'a miss looks at history twice (queue → history race)');
    await advance(1000);
    await ended(t.runner);
    const m = t.manifest(id);
    assert.equal(m.run_status, 'failed');
    assert.equal(m.error?.code, 'COMFYUI_PROMPT_LOST');
    assert.equal(m.phases.comfyui.status, 'failed');
    assert.deepEqual([m.phases.stabilize.status, m.phases.lipsync.status, m.phases.encode.status], ['skipped', 'skipped', 'skipped']);
  });

  it('a miss followed by the prompt showing up in the queue resets the count', async () => {
    const t = setup();
    const { id, promptId } = await t.started();
    t.comfyui.lose(promptId);
    await advance(1000);
    t.comfyui.adopt(promptId, 'pending');
    await advance(1000);
    t.comfyui.lose(promptId);
    await advance(1000);
    assert.equal(t.manifest(id).run_status, 'running');
    t.comfyui.adopt(promptId, 'running');
    t.comfyui.succeed(promptId);
    await advance(1000);
    await ended(t.runner);
    assert.equal(t.manifest(id).run_status, 'completed');
  });

  it('ComfyUI unreachable for 15 s is COMFYUI_CRASHED; back within 15 s, the run goes on', async () => {
    const t = setup();
    const { id, promptId } = await t.started();
    t.comfyui.unreachable = true;
    await advance(14_000);
    assert.equal(t.manifest(id).run_status, 'running');
    t.comfyui.unreachable = false; // back: the clock starts again
    await advance(1000);
    t.comfyui.unreachable = true;
    await advance(14_000);
    assert.equal(t.manifest(id).run_status, 'running', 'the 15 s are counted from the last answer');
    await advance(2000);
    await ended(t.runner);
    const m = t.manifest(id);
    assert.equal(m.error?.code, 'COMFYUI_CRASHED');
    assert.match(m.error?.message ?? '', /unreachable for 1[5-6]\d{3} ms/);
    assert.ok(t.comfyui.prompts.has(promptId));
  });

  it('the managed ComfyUI exiting fails the run COMFYUI_CRASHED at once', async () => {
    const t = setup();
    const { id } = await t.started();
    t.processManager.crash();
    await settle();
    await ended(t.runner);
    assert.equal(t.manifest(id).error?.code, 'COMFYUI_CRASHED');
    assert.match(t.manifest(id).error?.message ?? '', /exited unexpectedly/);
  });

  it('a prompt someone else interrupted is COMFYUI_INTERRUPTED with the node', async () => {
    const t = setup();
    const { id, promptId } = await t.started();
    t.comfyui.run(promptId);
    t.comfyui.interruptedByOthers(promptId);
    await advance(1000);
    await ended(t.runner);
    assert.equal(t.manifest(id).error?.code, 'COMFYUI_INTERRUPTED');
    assert.deepEqual(t.manifest(id).error?.details, { node_id: '1', node_type: 'X' });
    assert.equal(t.comfyui.count('interrupt'), 0, 'VIDAX interrupted nothing');
  });

  it('timeout_s passed: VIDAX interrupts that prompt by id, drops it from the queue, fails COMFYUI_TIMEOUT', async () => {
    const t = setup();
    const { id, promptId } = await t.started({ ...JOB, timeout_s: 5 } as Job);
    t.comfyui.run(promptId);
    await advance(4000);
    assert.equal(t.manifest(id).run_status, 'running');
    await advance(2000);
    await ended(t.runner);
    assert.equal(t.manifest(id).error?.code, 'COMFYUI_TIMEOUT');
    assert.deepEqual(t.comfyui.calls.filter((c) => c.method === 'interrupt').map((c) => c.args[0]), [promptId]);
    assert.deepEqual(t.comfyui.calls.filter((c) => c.method === 'deleteQueued').map((c) => c.args[0]), [[promptId]]);
    assert.ok(t.runs.eventTypes(id).includes('comfyui.interrupted_by_vidax'));
  });

  it('a refused submit fails the run with ComfyUI\'s code and details; any other submit failure is COMFYUI_SUBMIT_FAILED', async () => {
    const t = setup();
    t.comfyui.submitError = new ComfyUIError('COMFYUI_REJECTED', 'ComfyUI rejected the workflow: bad', { details: { error: 'bad', node_errors: {} } });
    const a = await t.started();
    await ended(t.runner);
    assert.deepEqual(t.manifest(a.id).error, { code: 'COMFYUI_REJECTED', message: 'ComfyUI rejected the workflow: bad', details: { error: 'bad', node_errors: {} } });
    t.comfyui.submitError = new Error('socket hang up');
    const b = await t.started();
    await ended(t.runner);
    assert.deepEqual(t.manifest(b.id).error, { code: 'COMFYUI_SUBMIT_FAILED', message: 'socket hang up' });
  });

  it('ComfyUI that cannot be started: the start rejects with its code, the run stays queued, an event says why', async () => {
    const t = setup();
    t.processManager.startError = new ComfyUIError('COMFYUI_START_FAILED', 'ComfyUI exited with code 1 before it became ready');
    const id = t.runs.seed(JOB);
    await assert.rejects(t.runner.start(id), (err: ComfyUIError) => err.code === 'COMFYUI_START_FAILED' && err.status === 500);
    assert.equal(t.manifest(id).run_status, 'queued');
    assert.equal(t.comfyui.count('submit'), 0);
    assert.deepEqual(t.runs.events.get(id)?.map((e) => [e.type, e.code]), [['run.start_failed', 'COMFYUI_START_FAILED']]);
  });

  it('start at create ("start": true): asks ComfyUI unless a check under 1 s old over the same open socket stands; slow or failing → null (two-step path)', async () => {
    const t = setup();
    const text = JSON.stringify(JOB);
    const summary = { phases: JOB.phases } as Parameters<typeof t.runner.startAtCreate>[0];
    assert.ok(await t.runner.startAtCreate(summary, text));
    assert.equal(t.processManager.ensured, 1, 'no socket yet: asked');
    await t.events.ready();
    assert.ok(await t.runner.startAtCreate(summary, text));
    assert.equal(t.processManager.ensured, 2, 'socket open, no check over it yet: asked');
    assert.ok(await t.runner.startAtCreate(summary, text));
    assert.equal(t.processManager.ensured, 2, 'a fresh check over the same socket stands');
    await advance(1000);
    assert.ok(await t.runner.startAtCreate(summary, text));
    assert.equal(t.processManager.ensured, 3, 'a check 1 s old: asked again');
    t.events.drop();
    t.events.reconnect();
    assert.ok(await t.runner.startAtCreate(summary, text));
    assert.equal(t.processManager.ensured, 4, 'the socket changed: asked again');
    t.processManager.crash();
    t.processManager.startError = new ComfyUIError('COMFYUI_START_FAILED', 'exited');
    assert.equal(await t.runner.startAtCreate(summary, text), null, 'after a crash it is asked, and its failure means the two-step path');
    assert.equal(t.processManager.ensured, 5);
    t.processManager.startError = null;
    let open!: () => void;
    t.processManager.startGate = new Promise<void>((r) => {
      open = r;
    });
    const slow = t.runner.startAtCreate(summary, text);
    await advance(100);
    assert.equal(await slow, null, 'not healthy within 100 ms: the two-step path (its wait shows)');
    open();
    const inputs = { ...summary, inputs: { clip: { url: 'https://example.com/a.mp4' } } } as typeof summary;
    assert.equal(await t.runner.startAtCreate(inputs, text), null, 'inputs to prepare: the two-step path');
  });

  it('workflow.json is written beside the submit: events in order; a write that fails drops the prompt and fails prepare (PREPARE_FAILED)', async () => {
    const t = setup();
    const ok = await t.started();
    assert.ok(existsSync(t.runs.paths(ok.id).workflow), 'written before the start answered');
    const types = (t.runs.events.get(ok.id) ?? []).map((e) => e.type);
    assert.deepEqual(types.slice(0, 5), ['run.started', 'phase.started', 'phase.completed', 'phase.started', 'comfyui.queued']);
    t.comfyui.run(ok.promptId);
    t.comfyui.succeed(ok.promptId, { '2': { images: [{ filename: 'a_00001_.png', subfolder: `vidax/${ok.id}`, type: 'output' }] } });
    t.events.emit(ok.promptId, 'execution_success');
    await advance(100);
    await ended(t.runner);
    assert.equal(t.manifest(ok.id).run_status, 'completed');

    const id = t.runs.seed(JOB);
    mkdirSync(join(t.runs.paths(id).workflow, 'x'), { recursive: true }); // a folder where workflow.json goes: its rename fails
    await t.runner.start(id);
    await advance(100);
    await ended(t.runner);
    const m = t.manifest(id);
    assert.deepEqual([m.run_status, m.phases.prepare.status, m.error?.code], ['failed', 'failed', 'PREPARE_FAILED']);
    assert.equal(m.phases.comfyui.status, 'skipped');
    const promptId = String(m.phases.comfyui.prompt_id);
    assert.ok(t.comfyui.count('deleteQueued') >= 1, 'the prompt that may have reached ComfyUI is dropped');
    assert.ok(!(t.runs.events.get(id) ?? []).some((e) => e.type === 'phase.completed' && e.phase === 'prepare'), 'prepare never logged completed');
    assert.notEqual(promptId, 'undefined');
  });

  it('only a queued run starts: a second start is 409 run_already_started, and one start wins of two at once', async () => {
    const t = setup();
    const id = t.runs.seed(JOB);
    const results = await Promise.allSettled([t.runner.start(id), t.runner.start(id)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    await assert.rejects(t.runner.start(id), { code: 'run_already_started', status: 409 });
    await settle();
    assert.equal(t.comfyui.count('submit'), 1, 'one prompt for one run');
  });

  it('a start waiting for ComfyUI shows it: prepare running + event, the 409 names it; a failed wait puts prepare back', async () => {
    for (const outcome of ['ready', 'failed'] as const) {
      const t = setup();
      let open!: () => void;
      let refuse!: (err: Error) => void;
      t.processManager.startGate = new Promise<void>((resolve, reject) => {
        open = resolve;
        refuse = reject;
      });
      const id = t.runs.seed(JOB);
      const starting = t.runner.start(id);
      starting.catch(() => {});
      await advance(50);
      assert.equal(t.manifest(id).phases.prepare.status, 'queued', 'a quick answer writes nothing');
      await advance(100);
      const waiting = t.manifest(id);
      assert.deepEqual(
        { run: waiting.run_status, prepare: waiting.phases.prepare.status, waiting_for: waiting.phases.prepare.waiting_for },
        { run: 'queued', prepare: 'running', waiting_for: 'comfyui' },
      );
      assert.ok(t.runs.eventTypes(id).includes('run.waiting_for_comfyui'));
      await assert.rejects(t.runner.start(id), (err: Error & { code: string; status: number }) =>
        err.code === 'run_already_started' && err.status === 409 && /waiting for ComfyUI/.test(err.message));
      if (outcome === 'ready') {
        open();
        assert.deepEqual(await starting, { run_id: id, run_status: 'running' });
        const m = t.manifest(id);
        assert.deepEqual({ run: m.run_status, prepare: m.phases.prepare.status, waiting_for: m.phases.prepare.waiting_for }, {
          run: 'running', prepare: 'completed', waiting_for: undefined,
        });
      } else {
        refuse(new ComfyUIError('COMFYUI_TIMEOUT', 'ComfyUI did not become ready'));
        await assert.rejects(starting, { code: 'COMFYUI_TIMEOUT' });
        const m = t.manifest(id);
        assert.deepEqual({ run: m.run_status, prepare: m.phases.prepare.status, started_at: m.phases.prepare.started_at }, {
          run: 'queued', prepare: 'queued', started_at: null,
        });
      }
      await closeAll();
      mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-01-01T00:00:00Z') });
    }
  });

  it('events are in causal order: queued before what the socket reported first; the last progress before later outputs', async () => {
    const t = setup();
    let answer!: () => void;
    t.comfyui.submitGate = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const id = t.runs.seed(JOB);
    await t.runner.start(id);
    await settle();
    const promptId = t.promptOf(id);
    assert.ok(t.events.subscribed(promptId));
    // The socket is faster than the submit's HTTP answer.
    t.events.emit(promptId, 'execution_start');
    t.events.emit(promptId, 'executing', { node: '1' });
    t.events.emit(promptId, 'progress', { node: '1', value: 1, max: 10 });
    t.events.emit(promptId, 'progress', { node: '1', value: 7, max: 10 });
    await settle();
    answer();
    await settle();
    t.events.emit(promptId, 'progress', { node: '1', value: 10, max: 10 }); // throttled: pending
    t.events.emit(promptId, 'executed', { node: '1', output: {} });
    await settle();
    const comfyui = (t.runs.events.get(id) ?? [])
      .filter((e) => e.type.startsWith('comfyui.'))
      .map((e) => (e.type === 'comfyui.progress' ? `progress ${e.value}` : e.type.slice(8)));
    assert.deepEqual(comfyui, ['queued', 'started', 'node_started', 'progress 1', 'progress 10', 'node_output']);
  });

  it('close(): runs in flight stay running (no error recorded) for the next start to recover', async () => {
    const t = setup();
    const { id } = await t.started();
    await t.runner.close();
    const m = t.manifest(id);
    assert.equal(m.run_status, 'running');
    assert.equal(m.error, null);
    assert.ok(!t.runs.eventTypes(id).includes('run.failed'));
    await assert.rejects(t.runner.start(t.runs.seed(JOB)), { code: 'shutting_down', status: 503 });
  });
});

describe('recovery (fakes, mock timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-01-01T00:05:00Z') }));
  afterEach(closeAll);

  /** A run a previous VIDAX left running, its prompt submitted at 00:00. */
  const leftRunning = (t: ReturnType<typeof setup>, promptId: string | null) =>
    t.runs.seed(JOB, (m) => {
      m.run_status = 'running';
      m.phases.prepare = { ...m.phases.prepare, status: 'completed', started_at: '2026-01-01T00:00:00.000Z', finished_at: '2026-01-01T00:00:00.000Z' };
      m.phases.comfyui = { ...m.phases.comfyui, status: 'running', started_at: '2026-01-01T00:00:00.000Z', prompt_id: promptId };
    });

  it('re-attaches a run whose prompt ComfyUI still has: no second submit, finished from history', async () => {
    const t = setup();
    const id = leftRunning(t, 'p-kept');
    t.comfyui.adopt('p-kept', 'running');
    assert.deepEqual(await t.runner.recover(), { reattached: [id], failed: [] });
    await settle();
    assert.ok(t.runs.eventTypes(id).includes('run.reattached'));
    t.comfyui.succeed('p-kept');
    await advance(1000);
    await ended(t.runner);
    assert.deepEqual([t.manifest(id).run_status, t.manifest(id).error], ['completed', null]);
    assert.equal(t.comfyui.count('submit'), 0);
  });

  it('a re-attached run killed before its workflow.json landed (written beside the submit) gets it again, the same graph', async () => {
    const t = setup();
    const id = leftRunning(t, 'p-nowf');
    t.comfyui.adopt('p-nowf', 'running');
    assert.equal(existsSync(t.runs.paths(id).workflow), false);
    await t.runner.recover();
    t.comfyui.succeed('p-nowf');
    await advance(1000);
    await ended(t.runner);
    const graph = JSON.parse(readFileSync(t.runs.paths(id).workflow, 'utf8'));
    assert.equal(graph['2'].inputs.filename_prefix, `vidax/${id}/shot`);
    assert.equal(t.manifest(id).run_status, 'completed');
  });

  it('a finished phase shows its final state: progress seen before the restart ends at its max', async () => {
    const t = setup();
    const id = t.runs.seed(JOB, (m) => {
      m.run_status = 'running';
      m.phases.prepare = { ...m.phases.prepare, status: 'completed', started_at: '2026-01-01T00:00:00.000Z', finished_at: '2026-01-01T00:00:00.000Z' };
      m.phases.comfyui = { ...m.phases.comfyui, status: 'running', started_at: '2026-01-01T00:00:00.000Z', prompt_id: 'p-done', progress: { node: '2', value: 34, max: 100 }, queue_position: 0 };
    });
    t.comfyui.adopt('p-done', 'running');
    t.comfyui.succeed('p-done'); // it finished while VIDAX was down
    await t.runner.recover();
    await advance(1000);
    await ended(t.runner);
    const c = t.manifest(id).phases.comfyui;
    assert.deepEqual({ status: c.status, progress: c.progress, queue_position: c.queue_position }, {
      status: 'completed', progress: { node: '2', value: 100, max: 100 }, queue_position: null,
    });
  });

  it('a re-attached run keeps its deadline from when its prompt started', async () => {
    const t = setup();
    const id = t.runs.seed({ ...JOB, timeout_s: 360 } as Job, (m) => {
      m.run_status = 'running';
      m.phases.comfyui = { ...m.phases.comfyui, status: 'running', started_at: '2026-01-01T00:00:00.000Z', prompt_id: 'p-old' };
    });
    t.comfyui.adopt('p-old', 'running');
    await t.runner.recover();
    await advance(59_000);
    assert.equal(t.manifest(id).run_status, 'running');
    await advance(2000); // 6 min after the prompt started, 61 s after the restart
    await ended(t.runner);
    assert.equal(t.manifest(id).error?.code, 'COMFYUI_TIMEOUT');
  });

  it('a prompt found on the second look (1.5 s later) is re-attached; one never found fails COMFYUI_PROMPT_LOST', async () => {
    const t = setup();
    const late = leftRunning(t, 'p-late');
    const lost = leftRunning(t, 'p-lost');
    const pending = t.runner.recover();
    await advance(1000);
    t.comfyui.adopt('p-late', 'pending'); // the submit cut short by the kill lands now
    await advance(600);
    assert.deepEqual(await pending, { reattached: [late], failed: [lost] });
    const m = t.manifest(lost);
    assert.equal(m.error?.code, 'COMFYUI_PROMPT_LOST');
    assert.deepEqual(m.error?.details, { prompt_id: 'p-lost' });
    assert.equal(m.phases.comfyui.status, 'failed');
    await t.runner.close();
  });

  it('a run whose terminal event was logged before the crash is ended from the log: nothing appended, nothing re-run', async () => {
    const t = setup();
    const failed = leftRunning(t, 'p-failed');
    const done = leftRunning(t, 'p-done');
    t.comfyui.adopt('p-failed', 'running'); // ComfyUI still has both: old recovery re-attached them
    t.comfyui.adopt('p-done', 'running');
    await t.runs.appendEvent(failed, 'phase.failed', { phase: 'comfyui', code: 'COMFYUI_REJECTED', message: 'width must be 1 or more' });
    await t.runs.appendEvent(failed, 'run.failed', { code: 'COMFYUI_REJECTED' });
    await t.runs.appendEvent(done, 'phase.completed', { phase: 'comfyui', outputs: 1 });
    await t.runs.appendEvent(done, 'phase.skipped', { phase: 'encode', requested: false, reason: 'disabled by the job' });
    await t.runs.appendEvent(done, 'run.completed', { exit_status: 'success' });
    const logged = (id: string) => [...(t.runs.events.get(id) ?? [])];
    const before = [logged(failed), logged(done)];
    const got = await t.runner.recover();
    assert.deepEqual(got, { reattached: [], failed: [], settled: [failed, done] });
    await settle();
    assert.deepEqual([logged(failed), logged(done)], before, 'no event appended');
    assert.equal(t.comfyui.prompts.size, 2, 'nothing submitted');
    const f = t.manifest(failed);
    assert.equal(f.run_status, 'failed');
    assert.equal(f.exit_status, 'failed');
    assert.deepEqual(f.error, { code: 'COMFYUI_REJECTED', message: 'width must be 1 or more' });
    assert.equal(f.phases.comfyui.status, 'failed');
    const d = t.manifest(done);
    assert.equal(d.run_status, 'completed');
    assert.equal(d.exit_status, 'success');
    assert.equal(d.error, null);
    assert.equal(d.phases.comfyui.status, 'completed');
    assert.equal(d.phases.encode.status, 'skipped');
    assert.equal(d.phases.encode.reason, 'disabled by the job');
  });

  it('a queued run whose cancel logged run.failed before the crash is ended from the log, and cannot start after', async () => {
    const t = setup();
    const id = t.runs.seed(JOB);
    await t.runs.appendEvent(id, 'run.cancel_requested');
    await t.runs.appendEvent(id, 'run.failed', { code: 'CANCELLED' });
    const before = [...(t.runs.events.get(id) ?? [])];
    assert.deepEqual(await t.runner.recover(), { reattached: [], failed: [], settled: [id] });
    assert.deepEqual(t.runs.events.get(id), before, 'no event appended');
    const m = t.manifest(id);
    assert.equal(m.run_status, 'failed');
    assert.equal(m.error?.code, 'CANCELLED');
    assert.ok(Object.values(m.phases).every((p) => p.status === 'skipped'));
    await assert.rejects(t.runner.start(id), (err: Error & { code?: string }) => err.code === 'run_already_started');
    assert.equal(t.comfyui.prompts.size, 0);
  });

  it('a run stopped before its prompt had an id fails in prepare at once, without waiting', async () => {
    const t = setup();
    const id = t.runs.seed(JOB, (m) => {
      m.run_status = 'running';
      m.phases.prepare = { ...m.phases.prepare, status: 'running', started_at: '2026-01-01T00:00:00.000Z' };
    });
    assert.deepEqual(await t.runner.recover(), { reattached: [], failed: [id] });
    assert.equal(t.manifest(id).phases.prepare.status, 'failed');
    assert.equal(t.manifest(id).error?.code, 'COMFYUI_PROMPT_LOST');
  });

  it('ComfyUI unreachable at recovery: the run stays running ("not known yet") and is re-attached once ComfyUI answers with it', async () => {
    const t = setup();
    const id = leftRunning(t, 'p-x');
    t.comfyui.adopt('p-x', 'pending');
    t.comfyui.unreachable = true;
    assert.deepEqual(await t.runner.recover(), { reattached: [], failed: [], deferred: [id] });
    await advance(20_000);
    assert.equal(t.manifest(id).run_status, 'running', 'never failed while ComfyUI does not answer');
    assert.equal(t.manifest(id).error, null);
    t.comfyui.unreachable = false;
    await advance(40_000); // the next look (back-off at most 60 s)
    assert.ok(t.runs.eventTypes(id).includes('run.reattached'));
    t.comfyui.succeed('p-x');
    await advance(1000);
    await ended(t.runner);
    assert.deepEqual([t.manifest(id).run_status, t.manifest(id).error], ['completed', null]);
    assert.equal(t.comfyui.count('submit'), 0);
  });

  it('a deferred run is called lost only when ComfyUI answers without its prompt (twice)', async () => {
    const t = setup();
    const id = leftRunning(t, 'p-gone');
    t.comfyui.unreachable = true;
    await t.runner.recover();
    await advance(10_000);
    assert.equal(t.manifest(id).run_status, 'running');
    t.comfyui.unreachable = false; // it answers now, without the prompt
    await advance(60_000);
    await ended(t.runner);
    assert.equal(t.manifest(id).error?.code, 'COMFYUI_PROMPT_LOST');
  });
});
