// The event loop during POST /jobs/:id/start of a maximal job, measured in-process with
// perf_hooks.monitorEventLoopDelay: the real run store and parser thread, a fake ComfyUI.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, describe, it } from 'node:test';
import { createJobLoader, type JobLoader } from '../../lib/jobs/job-loader.ts';
import { createJobParser } from '../../lib/jobs/job-parser.ts';
import { createMemoryLogger } from '../../lib/logger.ts';
import { createRunner } from '../../lib/runner/runner.ts';
import { createRunStore } from '../../lib/runs/store.ts';
import { tempDir } from '../support/context.ts';
import { FakeComfyUIClient } from '../fakes/comfyui-client.ts';
import { FakeEventStream } from '../fakes/event-stream.ts';
import { fakeMedia } from '../fakes/media.ts';
import { FakeProcessManager } from '../fakes/process-manager.ts';

/** ~31 MB, 5000 nodes: the reliability suite's maximal job (test/reliability/start-limits.test.ts). */
function maximal(): { workflow: Record<string, unknown>; name: string; phases: { encode: { enabled: false } } } {
  const workflow: Record<string, unknown> = {
    '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'max' } },
  };
  for (let i = 3; i <= 5000; i++) {
    const inputs: Record<string, unknown> = {};
    for (let k = 0; k < 30; k++) inputs[`in${k}`] = `${i}:${k}:${'v'.repeat(190)}`;
    workflow[String(i)] = { class_type: 'EmptyImage', inputs };
  }
  return { workflow, name: 'maximal', phases: { encode: { enabled: false } } };
}

describe('the event loop during the start of a maximal job', () => {
  const dir = tempDir('vidax-start-loop-');
  const runs = createRunStore({ runsDir: dir });
  const parser = createJobParser({ offThreadBytes: 256 * 1024, maxQueued: 4 });
  after(async () => {
    await parser.close();
    await runs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Building the job leaves ~100 MB of garbage: collected before each measure, so a collection
  // of the test's own garbage is not counted as the start's stall.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { workflow: _wf, ...summary } = maximal();
  const text = JSON.stringify(maximal());

  /** The longest event-loop stall (ms) while `start` runs, over `n` starts. */
  async function longestStall(jobs: JobLoader | undefined, n: number): Promise<number> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await runs.create(summary, text)).run_id);
    // Submits wait until the measure is done (the fake would parse the graph on this loop).
    const comfyui = new FakeComfyUIClient();
    const held: (() => void)[] = [];
    let measuring = true;
    comfyui.submit = () =>
      new Promise((_, reject) => {
        const refuse = () => reject(new Error('not submitted in this test'));
        if (measuring) held.push(refuse);
        else refuse();
      });
    const runner = createRunner({
      runs, comfyui, events: new FakeEventStream(), processManager: new FakeProcessManager(), log: createMemoryLogger(), media: fakeMedia(), defaultTimeoutS: 600,
      ...(jobs ? { jobs } : {}),
    });
    gc();
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    for (const id of ids) await runner.start(id);
    h.disable();
    measuring = false;
    for (const refuse of held) refuse();
    await runner.settled();
    await runner.close();
    return h.max / 1e6;
  }

  it('with the parser thread the loop never stalls long; reading the job on the loop (as before) does', { timeout: 120_000 }, async () => {
    await parser.summary(Buffer.from(JSON.stringify({ pad: 'x'.repeat(300_000) }))); // the thread is loaded
    const threaded = await longestStall(createJobLoader(runs, parser), 2);
    const onLoop = await longestStall(undefined, 1); // runs.readJob + prepare + stringify here
    console.log(`longest event-loop stall during a 31 MB start: ${threaded.toFixed(0)} ms with the parser thread, ${onLoop.toFixed(0)} ms on the loop`);
    assert.ok(threaded < onLoop, `${threaded} ms vs ${onLoop} ms`);
    assert.ok(threaded < 250, `the loop stalled ${threaded.toFixed(0)} ms during a start`);
  });
});
