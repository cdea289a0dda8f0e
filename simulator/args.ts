// ComfyUI-shaped argv (+ simulator fault switches, each also an env var; the flag wins).
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface SimOptions {
  listen: string;
  port: number;
  outputDir: string;
  inputDir: string;
  tempDir: string;
  /** The fresh folder under the OS temp folder that holds the default dirs (removed at exit), or null with --base-directory. */
  ownBase: string | null;
  cacheNone: boolean;
  version: string;
  maxUploadBytes: number;
  dontPrintServer: boolean;
  logStdout: boolean;
  disableMetadata: boolean;
  startupDelayMs: number;
  neverReady: boolean;
  exitAtStart: number | null;
  crashAfterMs: number | null;
  failNode: string | null;
  silentWs: boolean;
  hangHttp: boolean;
  argv: string[];
}

export class ArgError extends Error {}

const VALUED = new Set([
  'port', 'output-directory', 'input-directory', 'temp-directory', 'base-directory', 'version-string',
  'max-upload-size', 'startup-delay-ms', 'exit-at-start', 'crash-after-ms', 'fail-node',
]);
const FLAGS = new Set(['cpu', 'disable-auto-launch', 'cache-none', 'never-ready', 'silent-ws', 'hang-http', 'dont-print-server', 'log-stdout', 'disable-metadata']);

/** `0.3.64` >= `0.3.45`? Non-numeric parts count as 0. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const b = min.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

function num(name: string, v: string, int = true): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) {
    throw new ArgError(`argument --${name}: invalid ${int ? 'int' : 'float'} value: '${v}'`);
  }
  return n;
}

export function parseSimArgs(argv: string[], env: Record<string, string | undefined>): SimOptions {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue; // stray positional: ignored
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const next = argv[i + 1];
    const hasNext = next !== undefined && !next.startsWith('--');
    let value = eq > 0 ? a.slice(eq + 1) : '';
    if (eq < 0 && (VALUED.has(name) || name === 'listen' || !FLAGS.has(name)) && hasNext) {
      value = next;
      i++;
    } else if (eq < 0 && VALUED.has(name)) {
      throw new ArgError(`argument --${name}: expected one argument`);
    }
    if (name === 'listen' && value === '') value = '0.0.0.0,::';
    given.set(name, value);
  }
  const pick = (flag: string, envName: string) => given.get(flag) ?? env[envName];
  const bool = (flag: string, envName: string) => given.has(flag) || ['1', 'true', 'yes'].includes(String(env[envName] ?? '').toLowerCase());
  const optNum = (flag: string, envName: string) => {
    const v = pick(flag, envName);
    return v === undefined || v === '' ? null : num(flag, v);
  };
  const base = resolve(given.get('base-directory') ?? join(tmpdir(), `comfyui-sim-${process.pid}-${randomBytes(4).toString('hex')}`));
  const tempParent = given.get('temp-directory');
  return {
    listen: (given.get('listen') ?? '127.0.0.1').split(',')[0] || '127.0.0.1',
    port: given.has('port') ? num('port', given.get('port')!) : 8188,
    outputDir: resolve(given.get('output-directory') ?? join(base, 'output')),
    inputDir: resolve(given.get('input-directory') ?? join(base, 'input')),
    tempDir: tempParent ? join(resolve(tempParent), 'temp') : join(base, 'temp'),
    ownBase: given.has('base-directory') ? null : base,
    cacheNone: given.has('cache-none'),
    version: given.get('version-string') || '0.3.64',
    maxUploadBytes: Math.round((given.has('max-upload-size') ? num('max-upload-size', given.get('max-upload-size')!, false) : 100) * 1024 * 1024),
    dontPrintServer: given.has('dont-print-server'),
    logStdout: given.has('log-stdout'),
    disableMetadata: given.has('disable-metadata'),
    startupDelayMs: optNum('startup-delay-ms', 'SIM_STARTUP_DELAY_MS') ?? 0,
    neverReady: bool('never-ready', 'SIM_NEVER_READY'),
    exitAtStart: optNum('exit-at-start', 'SIM_EXIT_AT_START'),
    crashAfterMs: optNum('crash-after-ms', 'SIM_CRASH_AFTER_MS'),
    failNode: pick('fail-node', 'SIM_FAIL_NODE') || null,
    silentWs: bool('silent-ws', 'SIM_SILENT_WS'),
    hangHttp: bool('hang-http', 'SIM_HANG_HTTP'),
    argv,
  };
}

export interface Logger {
  info(msg: string): void;
  error(msg: string): void;
}

/** ComfyUI logs everything to stderr (`--log-stdout`: below ERROR to stdout); v0.23+ adds colour level tags. */
export function createLog(opts: SimOptions): Logger {
  const tags = versionAtLeast(opts.version, '0.23.0');
  const line = (level: string, colour: number, msg: string) => (tags ? `\x1b[${colour}m[${level}]\x1b[0m ${msg}\n` : `${msg}\n`);
  return {
    info: (msg) => (opts.logStdout ? process.stdout : process.stderr).write(line('INFO', 32, msg)),
    error: (msg) => process.stderr.write(line('ERROR', 31, msg)),
  };
}
