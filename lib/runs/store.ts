import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { isNotRegular, readRegularFile } from '../files/safe-open.ts';
import { resolve, sep } from 'node:path';
import { sweepTempFiles, writeFileAtomic } from '../files/atomic-file.ts';
import { type ErrorCode, VidaxError, vidaxError } from '../errors.ts';
import { createEventLog, type RunEvent, readEvents } from './event-log.ts';
import { openFileStream } from '../files/file-stream.ts';
import type { Job } from '../jobs/schema.ts';
import { Lru } from './lru.ts';
import { deepFreeze, type Manifest, newManifest } from './manifest.ts';
import { createActiveIndex, markerFor } from './active-index.ts';
import { createRunIdMinter, isRunId } from './run-id.ts';
import { openRunList } from './run-list.ts';
import type { RunPaths, RunStore, RunStoreOptions } from './types.ts';

export type { RunEvent } from './event-log.ts';
export type { CreatedRun, RunPaths, RunStore, RunStoreOptions } from './types.ts';

const runNotFound = (id: string) =>
  vidaxError('run_not_found', isRunId(id) ? `no run ${id}` : 'no such run (not a valid run id)');
const fileNotFound = (code: ErrorCode & `${string}_not_found`, id: string, file: string) => vidaxError(code, `run ${id} has no ${file}`);
const isEnoent = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

export function createRunStore({ runsDir: dir, log, cacheSize = 1000, cacheBytes = 4 * 1024 * 1024 }: RunStoreOptions): RunStore {
  const runsDir = resolve(dir);
  const base = runsDir.endsWith(sep) ? runsDir : `${runsDir}${sep}`;
  const index = createActiveIndex(runsDir);
  const mint = createRunIdMinter();
  // Bounded by count and by the manifests' size as JSON (a manifest may carry 64 KiB of metadata).
  const cache = new Lru<string, Manifest>(cacheSize, cacheBytes);
  const events = createEventLog({ cacheSize });
  const chains = new Map<string, Promise<unknown>>();
  const creating = new Set<string>();
  const watchers = new Map<string, Set<(event: RunEvent) => void>>();
  /** Tells the run's watchers about an appended event (appends settle in seq order per run). */
  const appended = (id: string) => (event: RunEvent) => {
    for (const listener of watchers.get(id) ?? []) listener(event);
    return event;
  };

  const paths = (id: string): RunPaths => {
    if (!isRunId(id)) throw runNotFound(String(id));
    const workdir = `${base}${id}`; // a valid id has no separator and no dot segment: plain concatenation is safe
    return {
      workdir,
      manifest: `${workdir}${sep}manifest.json`,
      job: `${workdir}${sep}job.json`,
      logs: `${workdir}${sep}logs`,
      events: `${workdir}${sep}logs${sep}events.jsonl`,
      workflow: `${workdir}${sep}workflow.json`,
      outputs: `${workdir}${sep}outputs`,
      final: `${workdir}${sep}final.mp4`,
      inputs: `${workdir}${sep}inputs`,
    };
  };

  // After `paths`: the first start over an older runs dir reads each manifest once.
  const list = openRunList(runsDir, (id) => {
    try {
      return (JSON.parse(readFileSync(paths(id).manifest, 'utf8')) as Manifest).run_status;
    } catch {
      return null;
    }
  });

  async function load(id: string): Promise<Manifest> {
    const hit = cache.get(id);
    if (hit) return hit; // only valid ids are ever cached
    const p = paths(id);
    let text: string;
    try {
      text = await readRegularFile(p.manifest);
    } catch (err) {
      if (!isEnoent(err) && !isNotRegular(err)) throw err;
      const dir = await stat(p.workdir).catch(() => null);
      throw dir?.isDirectory() ? fileNotFound('manifest_not_found', id, 'manifest.json') : runNotFound(id);
    }
    let m: Manifest;
    try {
      m = deepFreeze(JSON.parse(text) as Manifest);
    } catch {
      throw vidaxError('manifest_unreadable', `manifest.json of run ${id} is not valid JSON`);
    }
    if (!cache.has(id)) cache.set(id, m, text.length); // an update that finished meanwhile wins
    return cache.get(id) ?? m;
  }

  function serialize<T>(id: string, task: () => Promise<T>): Promise<T> {
    const result = (chains.get(id) ?? Promise.resolve()).then(task);
    const settled = result.catch(() => {});
    chains.set(id, settled);
    void settled.then(() => {
      if (chains.get(id) === settled) chains.delete(id);
    });
    return result;
  }

  async function writeManifest(id: string, m: Manifest): Promise<Manifest> {
    const text = `${JSON.stringify(m)}\n`;
    await writeFileAtomic(paths(id).manifest, text);
    const frozen = deepFreeze(m);
    cache.set(id, frozen, text.length);
    return frozen;
  }

  /**
   * Removes a run directory that was never acknowledged, and any cached read of its manifest
   * (GET /jobs/:id is then 404). Its manifest goes first: a crash part way through `rm -r` must
   * not leave a manifest beside a half-removed run (say, without its logs folder) that the next
   * recovery would take for a whole run.
   */
  async function discard(id: string): Promise<void> {
    const p = paths(id);
    try {
      await rm(p.manifest, { force: true });
      await rm(p.workdir, { recursive: true, force: true });
    } finally {
      cache.delete(id);
    }
  }

  return {
    runsDir,
    paths,
    get: load,

    async create(job, submittedText, inputs, start) {
      for (let attempt = 0; ; attempt += 1) {
        const id = mint();
        const p = paths(id);
        creating.add(id);
        try {
          await index.move(id, null, 'creating'); // first: a crash from here on is found by recover()
          // Two plain mkdirs, synchronous like the markers (metadata only, no disk wait): EEXIST
          // on the run dir means the id is taken (another process on this runsDir).
          try {
            mkdirSync(p.workdir);
          } catch (err) {
            await index.move(id, 'creating', null);
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
            if (attempt < 5) continue; // id taken: mint again
            throw new Error('could not mint a free run id');
          }
          events.fresh(id);
          try {
            mkdirSync(p.logs);
            if (inputs) renameSync(inputs.dir, p.inputs); // staged uploads join the run in one rename
            const first: Manifest = { ...newManifest(id, p.workdir, job), inputs: inputs?.entries ?? [] };
            const started = start?.(id);
            started?.claim(first);
            const [, manifest] = await Promise.all([
              writeFileAtomic(p.job, submittedText ?? `${JSON.stringify(job)}\n`),
              writeManifest(id, first),
              events.append(id, p.events, 'run.created', { run_id: id, name: job.name ?? null }).then(appended(id)),
              started ? writeFileAtomic(p.workflow, started.workflow) : null,
            ]); // in parallel: the fsyncs share a journal commit; the `creating` marker covers a crash
            await index.move(id, 'creating', markerFor(manifest.run_status));
            list.set(id, manifest.run_status);
            return { run_id: id, manifestPath: p.manifest, workdir: p.workdir, manifest };
          } catch (err) {
            await discard(id).catch(() => {}); // e.g. disk full: undo the half-written run, answer 500
            await index.move(id, 'creating', null).catch(() => {});
            throw err;
          }
        } finally {
          creating.delete(id);
        }
      }
    },

    async readJob(id) {
      const p = paths(id);
      try {
        return JSON.parse(await readRegularFile(p.job)) as Job;
      } catch (err) {
        if (!isEnoent(err) && !isNotRegular(err)) throw err;
        const dir = await stat(p.workdir).catch(() => null);
        throw dir?.isDirectory() ? fileNotFound('job_not_found', id, 'job.json') : runNotFound(id);
      }
    },

    async update(id, mutate) {
      paths(id); // a malformed id rejects before anything is queued
      return serialize(id, async () => {
        const current = await load(id);
        const draft = structuredClone(current) as Manifest;
        await mutate(draft);
        draft.updated_at = new Date().toISOString();
        const before = markerFor(current.run_status);
        await index.move(id, before, 'running'); // a crash mid-write is swept by recover()
        let next: Manifest;
        try {
          next = await writeManifest(id, draft);
        } catch (err) {
          await index.move(id, 'running', before).catch(() => {});
          throw err;
        }
        await index.move(id, 'running', markerFor(next.run_status));
        list.set(id, next.run_status);
        return next;
      });
    },

    async appendEvent(id, type, fields = {}) {
      return events.append(id, paths(id).events, type, fields).then(appended(id));
    },

    watchEvents(id, listener) {
      const set = watchers.get(id) ?? new Set();
      watchers.set(id, set);
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0 && watchers.get(id) === set) watchers.delete(id);
      };
    },

    async openFile(id, file) {
      const p = paths(id);
      const opened = await openFileStream(p[file]);
      if (opened) return opened;
      const dir = await stat(p.workdir).catch(() => null);
      if (!dir?.isDirectory()) throw runNotFound(id);
      throw file === 'manifest' ? fileNotFound('manifest_not_found', id, 'manifest.json') : fileNotFound('logs_not_found', id, 'logs/events.jsonl');
    },

    async readEvents(id) {
      try {
        return await readEvents(paths(id).events);
      } catch (err) {
        if (isEnoent(err) || isNotRegular(err)) throw fileNotFound('logs_not_found', id, 'logs/events.jsonl');
        throw err;
      }
    },

    async listActive(status) {
      const all = await index.entries();
      return all.filter(({ state }) => (status ? state === status : state !== 'creating')).map(({ id }) => id);
    },

    async recover() {
      const removed: string[] = [];
      let tempFiles = 0;
      for (const { id, state } of await index.entries()) {
        if (creating.has(id) || chains.has(id) || state === 'queued') continue;
        const p = paths(id);
        for (const dir of [p.workdir, p.outputs]) tempFiles += await sweepTempFiles(dir);
        cache.delete(id);
        const m = await load(id).catch(() => null);
        // Half-created: job.json or the event log missing, or (started at create) workflow.json.
        const has = async (path: string) => (await stat(path).catch(() => null)) !== null;
        const whole =
          m !== null &&
          (state !== 'creating' || ((await has(p.job)) && (await has(p.events)) && (m.run_status === 'queued' || (await has(p.workflow)))));
        if (!m || !whole) {
          if (state === 'creating') {
            await discard(id); // never acknowledged: no 202 was sent
            removed.push(id);
          }
          await index.move(id, state, null);
          continue;
        }
        await index.move(id, state, markerFor(m.run_status));
      }
      // The list index: what the markers say now, and a manifest read for a run the journal
      // left unfinished that has no marker (a crash between the manifest write and the append).
      const active = new Map((await index.entries()).map((e) => [e.id, e.state]));
      for (const [id, state] of active) if (state !== 'creating') list.set(id, state);
      for (const id of list.unfinished()) {
        if (active.has(id)) continue;
        cache.delete(id);
        const m = await load(id).catch(() => null);
        if (m) list.set(id, m.run_status);
        else list.delete(id);
      }
      if (removed.length + tempFiles > 0) log?.info('run store recovered', { removed, temp_files: tempFiles });
      return { removed, tempFiles };
    },

    async listRuns({ status, before, limit }) {
      const runs: Manifest[] = [];
      let cursor = before;
      for (;;) {
        const page = list.page({ status, before: cursor, limit: limit - runs.length });
        for (const id of page.ids) {
          const m = await load(id).catch((err: unknown) => {
            if (err instanceof VidaxError && err.status === 404) return null;
            throw err;
          });
          if (m) runs.push(m);
          else list.delete(id); // its directory is gone
        }
        cursor = page.ids.at(-1) ?? cursor;
        if (runs.length >= limit || !page.more) return { runs, more: page.more };
      }
    },

    async close() {
      while (chains.size > 0) await Promise.all(chains.values());
      await events.drain();
      list.close();
    },
  };
}
