// Looks at a runs directory on disk the way an operator would after a crash.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunsDirReport {
  runs: number;
  /** Run directories whose manifest.json is missing or not JSON. */
  badManifests: string[];
  /** Every `.*.tmp` file anywhere under the runs dir. */
  tempFiles: string[];
  /** run_id → run_status from each manifest. */
  status: Map<string, string>;
}

/** Walks `runsDir`: parses every manifest.json, lists temp files. */
export function inspectRunsDir(runsDir: string): RunsDirReport {
  const report: RunsDirReport = { runs: 0, badManifests: [], tempFiles: [], status: new Map() };
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/^\..*\.tmp$/.test(e.name)) report.tempFiles.push(p);
    }
  };
  if (!existsSync(runsDir)) return report;
  walk(runsDir);
  for (const name of readdirSync(runsDir)) {
    if (!name.startsWith('r_')) continue;
    report.runs += 1;
    try {
      const m = JSON.parse(readFileSync(join(runsDir, name, 'manifest.json'), 'utf8')) as { run_status: string };
      report.status.set(name, m.run_status);
    } catch (err) {
      report.badManifests.push(`${name}: ${(err as Error).message}`);
    }
  }
  return report;
}
