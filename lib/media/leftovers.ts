import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename } from 'node:path';

/**
 * How a media tool is started so that it dies with VIDAX: with `setpriv --pdeathsig KILL` (util-linux,
 * found at start) the kernel kills ffmpeg the moment the VIDAX thread that started it is gone,
 * also on a kill -9 (a plain child would run on, orphaned, writing into the run dir).
 */
export function dieWithParent(setpriv: string | null | undefined, bin: string, args: readonly string[]): [string, string[]] {
  return setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, [...args]];
}

const alive = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && !/^\d+ \(.*\) [ZX]/s.test(stat);
};

/**
 * Kills the media tools a previous VIDAX left running in a run directory (Linux: /proc; elsewhere
 * nothing is found): every process of this user named like `bins` whose working directory is
 * `workdir` (VIDAX starts ffmpeg there, and only VIDAX works in a run dir). Resolves with their
 * pids once they are gone (at most ~2 s), so a phase re-run never races an orphan's writes.
 */
export async function killLeftovers(workdir: string, bins: readonly string[]): Promise<number[]> {
  const names = new Set(bins.map((b) => basename(b).slice(0, 15)));
  const target = await realpath(workdir).catch(() => workdir);
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((e) => /^\d+$/.test(e)).map(Number);
  const killed: number[] = [];
  for (const pid of pids) {
    if (pid === process.pid || (await readlink(`/proc/${pid}/cwd`).catch(() => null)) !== target) continue;
    if (!names.has((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim())) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // gone meanwhile, or not ours
    }
  }
  for (let i = 0; i < 100 && killed.length > 0; i += 1) {
    if (!(await Promise.all(killed.map(alive))).some(Boolean)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return killed;
}
