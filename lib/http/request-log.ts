import type { Logger } from '../logger.ts';

export interface RequestLogLimits {
  /** Longer paths are logged cut to this many characters (plus `path_length`). */
  readonly logPathMaxChars: number;
  /** At most this many lines a second for unauthenticated answers (401, and parser refusals). */
  readonly logUnauthenticatedPerSec: number;
}

export type RequestLine = {
  request_id: string | null;
  /** null: the parser refused the request before a method or path was known. */
  method: string | null;
  path: string | null;
  status: number;
  ms?: number;
};

/** An answer given without a valid key: 401, or a request Node's parser refused or timed out (400, 408, 431). */
const unauthenticated = (status: number) => status === 401 || status === 400 || status === 408 || status === 431;

/**
 * The request log: one line per request, with the path cut to `logPathMaxChars`, and the lines
 * of unauthenticated answers limited to `logUnauthenticatedPerSec` a second (a client without
 * the key cannot make the log grow faster than that). Dropped lines are counted: when a second
 * had drops, one `requests not logged` line says how many (written when the next second
 * starts, or at the latest a second later).
 */
export function createRequestLog(log: Logger, limits: RequestLogLimits): (line: RequestLine) => void {
  const max = limits.logPathMaxChars;
  let windowStart = 0;
  let inWindow = 0;
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;

  const reportDropped = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (dropped === 0) return;
    log.warn('requests not logged', { reason: 'unauthenticated lines over logUnauthenticatedPerSec', dropped });
    dropped = 0;
  };

  return (line) => {
    if (unauthenticated(line.status)) {
      const now = Date.now();
      if (now - windowStart >= 1000) {
        reportDropped();
        windowStart = now;
        inWindow = 0;
      }
      if (inWindow >= limits.logUnauthenticatedPerSec) {
        dropped++;
        timer ??= setTimeout(reportDropped, 1000).unref();
        return;
      }
      inWindow++;
    }
    if (line.path !== null && line.path.length > max) {
      log.info('request', { ...line, path: `${line.path.slice(0, max)}…`, path_length: line.path.length });
    } else {
      log.info('request', line);
    }
  };
}
