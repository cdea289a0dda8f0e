import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Uploads land in `<runsDir>/.uploads/<random>/` until their run exists, then move in one rename. */
export const STAGING_DIR = '.uploads';

export interface Staging {
  readonly dir: string;
  path(name: string): string;
  /** Removes the folder and everything in it (a failed or cut-off request leaves nothing). */
  discard(): Promise<void>;
}

export async function createStaging(runsDir: string): Promise<Staging> {
  const dir = join(runsDir, STAGING_DIR, randomBytes(12).toString('hex'));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return {
    dir,
    path: (name) => join(dir, name), // names are checked against INPUT_NAME first: no separator, no dot segment
    discard: () => rm(dir, { recursive: true, force: true }),
  };
}

/** At start-up: staging folders a crash left mid-request belong to no run. */
export async function sweepStaging(runsDir: string): Promise<void> {
  await rm(join(runsDir, STAGING_DIR), { recursive: true, force: true });
}
