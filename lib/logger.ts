/** Structured logger: one JSON line per call. Never pass secrets in `fields`. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createJsonLogger(write: (line: string) => void): Logger {
  let lastMs = Number.NaN;
  let lastTs = '';
  const now = () => {
    const ms = Date.now();
    if (ms !== lastMs) {
      lastMs = ms;
      lastTs = new Date(ms).toISOString();
    }
    return lastTs;
  };
  // Hot path (one line per request): the fields are serialized once and spliced after the fixed
  // head, with no merged copy; fields that shadow ts/level/msg take the general path.
  const emit = (level: string, msg: string, fields?: Record<string, unknown>) => {
    if (fields !== undefined && ('ts' in fields || 'level' in fields || 'msg' in fields)) {
      write(`${JSON.stringify({ ts: now(), level, msg, ...fields })}\n`);
      return;
    }
    const rest = fields === undefined ? '{}' : JSON.stringify(fields);
    const head = `{"ts":"${now()}","level":"${level}","msg":${JSON.stringify(msg)}`;
    write(rest.length > 2 ? `${head},${rest.slice(1)}\n` : `${head}}\n`);
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

/** A logger that keeps lines in memory (tests) or drops them. */
export function createMemoryLogger(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const push = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, ...fields });
  };
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

/** Serialises an error for the log (stack included; logs are not responses). */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { error: err.message, name: err.name, stack: err.stack };
  return { error: String(err) };
}

/**
 * A line sink that batches: lines collect in memory and leave in one write per event-loop turn
 * (so a busy server makes one syscall for many request lines); call `flush` on exit so nothing
 * is lost.
 */
export function batchedWriter(write: (data: string) => void): {
  write(line: string): void;
  flush(): void;
} {
  let buf = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (buf === '') return;
    const data = buf;
    buf = '';
    write(data);
  };
  return {
    write(line) {
      buf += line;
      if (buf.length > 1 << 16) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
