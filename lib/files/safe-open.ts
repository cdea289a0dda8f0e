import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/**
 * Opens inside a run directory never follow a symlink (O_NOFOLLOW: a `manifest.json` linked to
 * `/etc/passwd` is refused, not served) and never wait on a FIFO or device (O_NONBLOCK: opening
 * a FIFO returns at once instead of holding a thread-pool thread until a writer comes; regular
 * files ignore the flag). What was opened must be a regular file, else it is closed and refused.
 */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const NONBLOCK = constants.O_NONBLOCK ?? 0;

/** Thrown for a path that is a symlink, FIFO, device, socket or directory: code `ENOTREG`. */
export class NotRegularFile extends Error {
  readonly code = 'ENOTREG';
  constructor(readonly path: string) {
    super(`not a regular file: ${path}`);
    this.name = 'NotRegularFile';
  }
}

const refusedCodes = new Set(['ELOOP', 'EMLINK', 'ENXIO', 'EISDIR', 'ENOTREG']);

/** True for the errors of `openRegular` that mean "this path is not a regular file". */
export const isNotRegular = (err: unknown) => refusedCodes.has((err as NodeJS.ErrnoException)?.code ?? '');

const flagsFor = (mode: 'r' | 'a') =>
  mode === 'r' ? constants.O_RDONLY | NOFOLLOW | NONBLOCK : constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NOFOLLOW | NONBLOCK;

/** Opens a regular file for reading (`'r'`) or appending (`'a'`, created 0644 before the umask). */
export async function openRegular(path: string, mode: 'r' | 'a' = 'r'): Promise<FileHandle> {
  const flags = flagsFor(mode);
  let fh: FileHandle;
  try {
    fh = await open(path, flags, 0o644);
  } catch (err) {
    // A symlink (ELOOP, EMLINK on some BSDs) or a FIFO without a reader (ENXIO, for writes).
    if (isNotRegular(err)) throw new NotRegularFile(path);
    throw err;
  }
  try {
    if (!(await fh.stat()).isFile()) throw new NotRegularFile(path);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/** `openRegular`, synchronous (for small appends that never wait for the disk): a descriptor. */
export function openRegularSync(path: string, mode: 'r' | 'a' = 'r'): number {
  let fd: number;
  try {
    fd = openSync(path, flagsFor(mode), 0o644);
  } catch (err) {
    if (isNotRegular(err)) throw new NotRegularFile(path);
    throw err;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new NotRegularFile(path);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** Reads a regular file whole as UTF-8 (see `openRegular`). */
export async function readRegularFile(path: string): Promise<string> {
  const fh = await openRegular(path, 'r');
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
