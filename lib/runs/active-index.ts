import { closeSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { isTerminal, type RunStatus } from './manifest.ts';
import { isRunId } from './run-id.ts';

/**
 * The index of unfinished runs: `<runsDir>/.active/<run_id>.<state>`, one empty file per run, so
 * start-up and the runner never scan the runs directory. States:
 * - `creating`: written first by create(), until the run is complete on disk;
 * - `queued`;
 * - `running`: a running run, and any run while a manifest write is in flight (so a crash
 *   mid-write is found and swept by recover()).
 * A completed or failed run has no marker.
 */
export type MarkerState = 'creating' | 'queued' | 'running';

export const markerFor = (status: RunStatus): MarkerState | null =>
  isTerminal(status) ? null : status === 'queued' ? 'queued' : 'running';

export interface ActiveIndex {
  /** Moves a run's marker from one state to another (null: none). */
  move(id: string, from: MarkerState | null, to: MarkerState | null): Promise<void>;
  /** Every marker, oldest run first. */
  entries(): Promise<{ id: string; state: MarkerState }[]>;
}

const STATES = new Set<string>(['creating', 'queued', 'running']);

export function createActiveIndex(runsDir: string): ActiveIndex {
  const dir = join(runsDir, '.active');
  mkdirSync(dir, { recursive: true });
  const file = (id: string, state: MarkerState) => `${dir}${sep}${id}.${state}`;
  const touch = (path: string) => closeSync(openSync(path, 'w'));
  return {
    // Synchronous on purpose: an empty-file create, rename or unlink is one metadata syscall that
    // never waits for the disk, whereas on the libuv pool (4 threads) it would queue behind the
    // fsyncs of concurrent writes. Still ordered before the caller's next step, as before.
    async move(id, from, to) {
      if (from === to) return;
      if (from && to) {
        try {
          renameSync(file(id, from), file(id, to));
        } catch {
          touch(file(id, to));
        }
      } else if (to) touch(file(id, to));
      else if (from) rmSync(file(id, from), { force: true });
    },
    async entries() {
      const out: { id: string; state: MarkerState }[] = [];
      for (const name of await readdir(dir)) {
        const dot = name.lastIndexOf('.');
        const id = name.slice(0, dot);
        const state = name.slice(dot + 1);
        if (isRunId(id) && STATES.has(state)) out.push({ id, state: state as MarkerState });
      }
      return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
  };
}
