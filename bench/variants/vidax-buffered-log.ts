// Experiment (not shipped): VIDAX exactly as adapters/node.ts runs it, except that request-log lines
// are buffered and written asynchronously (as Fastify's pino/sonic-boom default does) instead of one
// blocking write(2) per line through process.stdout. Measures the fix suggested for lib/logger.ts.
import { write, writeSync } from 'node:fs';
import { startServer } from '../../adapters/node.ts';
import { loadConfig } from '../../lib/config.ts';
import { createJsonLogger } from '../../lib/logger.ts';

/** Lines collect in memory and go out in one write per event-loop turn; the rest is flushed on exit. */
export function bufferedWriter(fd: number, maxBuffered = 1 << 20): (line: string) => void {
  let buf = '';
  let writing = false;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (writing || buf === '') return;
    const chunk = Buffer.from(buf);
    buf = '';
    writing = true;
    write(fd, chunk, () => {
      writing = false;
      if (buf !== '') flush();
    });
  };
  process.on('exit', () => {
    if (buf !== '') writeSync(fd, buf);
  });
  return (line) => {
    buf += line;
    if (buf.length > maxBuffered && !writing) {
      writeSync(fd, buf); // a flood the disk cannot keep up with: block instead of growing
      buf = '';
    } else if (!scheduled && !writing) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}

const config = loadConfig({ env: process.env, cwd: process.cwd() });
const running = await startServer({ config, log: createJsonLogger(bufferedWriter(1)) });
process.once('SIGTERM', () => running.close().then(() => process.exit(0)));
