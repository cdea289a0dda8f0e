import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseJob } from '../../lib/jobs/schema.ts';
import { createRunIdMinter, isRunId } from '../../lib/runs/run-id.ts';
import { JOB_SCHEMA_FILE, jobJsonSchemaText } from '../../scripts/gen-job-schema.ts';
import { fixtureWorkflow, invalidJobs } from '../support/jobs.ts';

describe('JOB_SCHEMA', () => {
  it('accepts both fixture workflows with every option, unchanged', () => {
    for (const name of ['workflow-single', 'workflow-batch'] as const) {
      const job = {
        workflow: fixtureWorkflow(name),
        name: 'clip ✓ 日本',
        metadata: { shot: 12, tags: ['a'], nested: { deep: [1, { x: null }] } },
        params: [{ node: '1', input: 'width', value: 32 }],
        phases: {
          stabilize: { enabled: true, shakiness: 6, smoothing: 20, zoom: -5 },
          lipsync: {
            enabled: true,
            workflow: fixtureWorkflow('workflow-lipsync-standin'),
            video: { node: '1', input: 'file' },
            audio: { node: '3', input: 'audio', input_file: 'voice.wav' },
            timeout_s: 900,
          },
          encode: { enabled: true, fps: 24, crf: 20, preset: 'veryfast', width: 1280, height: 720, audio: 'voice.wav' },
        },
        timeout_s: 600,
      };
      const parsed = parseJob(job);
      assert.ok(parsed.ok, JSON.stringify(parsed));
      assert.deepEqual(parsed.job, job);
    }
    assert.ok(parseJob({ workflow: fixtureWorkflow('workflow-single') }).ok, 'workflow alone is enough');
  });

  it('refuses every invalid job, naming the failing path with a short message', () => {
    for (const [label, body, path] of invalidJobs()) {
      const parsed = parseJob(body);
      assert.equal(parsed.ok, false, label);
      if (parsed.ok) continue;
      assert.ok(
        parsed.issues.some((i) => i.path === path || i.path.startsWith(`${path}.`)),
        `${label}: expected an issue at "${path}", got ${JSON.stringify(parsed.issues).slice(0, 500)}`,
      );
      for (const issue of parsed.issues) assert.ok(issue.message.length < 400, `${label}: message echoes input`);
    }
  });

  it('tells the user to export a UI-format workflow with "Save (API Format)"', () => {
    const parsed = parseJob({ workflow: { nodes: [], links: [] } });
    assert.equal(parsed.ok, false);
    if (!parsed.ok) assert.match(parsed.issues[0]?.message ?? '', /Save \(API Format\)/);
  });

  it('lists every issue at once', () => {
    const parsed = parseJob({ workflow: { 1: { class_type: '', inputs: {} } }, name: 1, timeout_s: -1, extra: true });
    assert.equal(parsed.ok, false);
    if (!parsed.ok) {
      assert.deepEqual(parsed.issues.map((i) => i.path).sort(), ['extra', 'name', 'timeout_s', 'workflow.1.class_type']);
    }
  });

  it('matches the committed schema/job.schema.json (run `npm run gen:schema` after a change)', () => {
    assert.equal(readFileSync(JOB_SCHEMA_FILE, 'utf8'), jobJsonSchemaText());
    const schema = JSON.parse(jobJsonSchemaText());
    assert.deepEqual(schema.required, ['workflow']);
    assert.equal(schema.additionalProperties, false);
  });
});

describe('run ids', () => {
  it('are URL-safe, short, unique and sortable by creation time, even in one millisecond or a clock step back', () => {
    const clock = [1000, 1000, 1000, 999, 2000, 2000];
    const mint = createRunIdMinter(() => clock.shift() ?? 3000);
    const ids = Array.from({ length: 2000 }, () => mint());
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
    for (const id of ids) {
      assert.ok(isRunId(id), id);
      assert.ok(id.length <= 64);
      assert.equal(encodeURIComponent(id), id);
    }
    const real = createRunIdMinter();
    const a = real();
    assert.ok(Math.abs(Number(a.slice(2, 15)) - Date.now()) < 60_000, 'the time part is epoch milliseconds');
  });

  it('rejects anything that could reach outside the runs directory', () => {
    for (const bad of ['', '..', '../etc', '/etc/passwd', 'r_0000000000000_x/..', 'r_0000000000000_x\0', '%2e%2e', 'r_..', 'R_0000000000000_x', `r_0000000000000_${'x'.repeat(60)}`, '.active', 'r_0000000000000_x.queued']) {
      assert.equal(isRunId(bad), false, JSON.stringify(bad));
    }
    assert.equal(isRunId(123), false);
    assert.ok(isRunId('r_0000000000000_x'));
  });
});
