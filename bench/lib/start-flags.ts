import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Node flags `npm start` runs VIDAX with (read from package.json), so benches measure production. */
export const START_NODE_FLAGS: string[] = (() => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));
  const m = /exec node ((?:--\S+\s+)*)dist\/vidax\.mjs/.exec(String(pkg.scripts?.start ?? ''));
  return m?.[1] ? m[1].trim().split(/\s+/) : [];
})();
