import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { functions } from '../functions/index.ts';
import { buildOpenApi } from '../lib/api/openapi.ts';
import { NAMED_SCHEMAS } from '../lib/api/schemas.ts';
import { VERSION } from '../lib/version.ts';

/** The OpenAPI document of every mounted function, as GET /openapi.json serves it. */
export function openApiText(): string {
  return `${JSON.stringify(buildOpenApi(functions, VERSION, NAMED_SCHEMAS), null, 2)}\n`;
}

export const OPENAPI_FILE = join(import.meta.dirname, '..', 'schema', 'openapi.json');

if (process.argv[1] === import.meta.filename) {
  writeFileSync(OPENAPI_FILE, openApiText());
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}
