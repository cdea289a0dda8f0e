/**
 * The query of GET /jobs: `status`, `limit` (1..500, default 50) and an opaque `cursor` (the
 * position after the last run of the previous page). Bad values are 400 `invalid_query`.
 */
import { vidaxError } from '../errors.ts';
import type { RunStatus } from './manifest.ts';
import { isRunId } from './run-id.ts';
import { RUN_STATUSES } from './run-list.ts';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export interface ListQuery {
  status: RunStatus | undefined;
  limit: number;
  before: string | undefined;
}

/** The cursor after `runId`: base64url of a small versioned JSON, opaque to clients. */
export const cursorAfter = (runId: string) => Buffer.from(JSON.stringify({ v: 1, before: runId })).toString('base64url');

function decodeCursor(cursor: string): string | null {
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: unknown; before?: unknown };
    return parsed.v === 1 && isRunId(parsed.before) ? parsed.before : null;
  } catch {
    return null;
  }
}

export function parseListQuery(params: URLSearchParams): ListQuery {
  const issues: { name: string; message: string }[] = [];
  const status = params.get('status');
  if (status !== null && !(RUN_STATUSES as readonly string[]).includes(status)) {
    issues.push({ name: 'status', message: `must be one of ${RUN_STATUSES.join(', ')}` });
  }
  const rawLimit = params.get('limit');
  let limit = DEFAULT_LIMIT;
  if (rawLimit !== null) {
    limit = /^\d{1,4}$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) issues.push({ name: 'limit', message: `must be an integer from 1 to ${MAX_LIMIT}` });
  }
  const cursor = params.get('cursor');
  const before = cursor === null ? undefined : decodeCursor(cursor);
  if (before === null) issues.push({ name: 'cursor', message: 'is not a cursor this server gave (pass next_cursor of the previous page as is)' });
  if (issues.length > 0) {
    throw vidaxError('invalid_query', `bad query parameter${issues.length > 1 ? 's' : ''}: ${issues.map((i) => i.name).join(', ')}`, { details: issues });
  }
  return { status: (status ?? undefined) as RunStatus | undefined, limit, before: before ?? undefined };
}
