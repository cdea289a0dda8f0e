import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJsonSchema } from '@valibot/to-json-schema';
import { JOB_SCHEMA } from '../lib/jobs/schema.ts';

/** The JSON Schema text of JOB_SCHEMA (checks that JSON Schema cannot express are left out). */
export function jobJsonSchemaText(): string {
  const schema = toJsonSchema(JOB_SCHEMA, { errorMode: 'ignore' });
  return `${JSON.stringify({ $id: 'https://vidax.local/schema/job.schema.json', ...schema }, null, 2)}\n`;
}

export const JOB_SCHEMA_FILE = join(import.meta.dirname, '..', 'schema', 'job.schema.json');

if (process.argv[1] === import.meta.filename) {
  writeFileSync(JOB_SCHEMA_FILE, jobJsonSchemaText());
  process.stdout.write(`wrote ${JOB_SCHEMA_FILE}\n`);
}
