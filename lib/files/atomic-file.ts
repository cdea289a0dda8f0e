import { closeSync, fdatasync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { cutUtf8 } from './utf8.ts';

let counter = 0;

/** Temp files are `.<name>.<pid>.<n>.tmp` beside their target; `sweepTempFiles` knows the pattern. */
export const isTempName = (name: string) => /^\..+\.\d+\.\d+\.tmp$/.test(name);

/**
 * Writes `data` to `path` atomically: a temp file in the same folder, fsync'd, then renamed over
 * `path`. A reader sees the old file or the new one, never a part; a crash leaves at most a temp
 * file that `sweepTempFiles` removes.
 */
/** A fresh temp path beside `path` in the pattern `sweepTempFiles` removes. */
export function tempPathFor(path: string): string {
  counter += 1;
  // At most ~130 bytes of the name: the temp name must fit where the name itself fits (255 bytes).
  return join(dirname(path), `.${cutUtf8(basename(path), 100)}.${process.pid}.${counter}.tmp`);
}

/**
 * Up to this size, `writeFileAtomic` creates, writes, closes and renames synchronously (page cache
 * and metadata only, microseconds) and sends only the fdatasync to libuv's pool: one hop instead of
 * five, each of which queues behind other writes' fsyncs on the pool's 4 threads.
 */
export const SYNC_WRITE_MAX_BYTES = 64 * 1024;

/** fdatasync of a descriptor on libuv's pool. */
export const datasync = (fd: number) =>
  new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));

async function writeSmallAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off);
    await datasync(fd);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  if (data.length <= SYNC_WRITE_MAX_BYTES) {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.byteLength <= SYNC_WRITE_MAX_BYTES) return writeSmallAtomic(path, bytes);
  }
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Makes a finished file durable (fsync). */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a finished temp file durable (fsync) and moves it over `dest` in one rename. */
export async function syncAndRename(tmp: string, dest: string): Promise<void> {
  await syncFile(tmp);
  await rename(tmp, dest);
}

/** Removes temp files left in `dir` by a crash mid-write; returns how many. Missing dir: 0. */
export async function sweepTempFiles(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const temps = names.filter(isTempName);
  await Promise.all(temps.map((name) => rm(join(dir, name), { force: true })));
  return temps.length;
}
