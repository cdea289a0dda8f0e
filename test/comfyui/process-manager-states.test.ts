import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ManagerPhase } from '../../lib/comfyui/health.ts';
import { type ManagerEvent, nextPhase, PHASE_TRANSITIONS } from '../../lib/comfyui/process-manager.ts';

const PHASES: ManagerPhase[] = ['idle', 'starting', 'ready', 'crashed', 'stopped'];

describe('process manager states', () => {
  it('holds the whole state × event table (a change to it is a visible diff)', () => {
    const table = Object.fromEntries(
      (Object.keys(PHASE_TRANSITIONS) as ManagerEvent[]).map((event) => [event, PHASES.map((p) => `${p}→${nextPhase(p, event)}`).join(' ')]),
    );
    assert.deepEqual(table, {
      spawned: 'idle→starting starting→starting ready→starting crashed→starting stopped→starting',
      answered: 'idle→ready starting→ready ready→ready crashed→ready stopped→ready',
      killed_unready: 'idle→stopped starting→stopped ready→stopped crashed→stopped stopped→stopped',
      exited: 'idle→crashed starting→crashed ready→crashed crashed→crashed stopped→crashed',
      start_failed: 'idle→idle starting→crashed ready→ready crashed→crashed stopped→stopped',
      stopped: 'idle→stopped starting→stopped ready→stopped crashed→stopped stopped→stopped',
    });
  });

  it('a failed start only marks a start still in progress as crashed (a kill after the timeout stays stopped)', () => {
    assert.equal(nextPhase(nextPhase('starting', 'killed_unready'), 'start_failed'), 'stopped');
    assert.equal(nextPhase(nextPhase('idle', 'spawned'), 'start_failed'), 'crashed');
  });
});
