import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as v from 'valibot';
import { secretProblem } from './webhooks/signature.ts';

const MIN_KEY_LENGTH = 16;
const posInt = (max = Number.MAX_SAFE_INTEGER) => v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(max));
const nonEmpty = v.pipe(v.string(), v.minLength(1));

const ComfyUIRestartSchema = v.strictObject({
  enabled: v.optional(v.boolean(), true),
  maxRestarts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1000)), 5),
  backoffMs: v.optional(posInt(600_000), 1000),
  maxBackoffMs: v.optional(posInt(3_600_000), 30_000),
});

const ComfyUISchema = v.strictObject({
  url: v.optional(v.pipe(v.string(), v.url(), v.regex(/^https?:\/\//, 'must be an http(s) URL')), 'http://127.0.0.1:8188'),
  autoStart: v.optional(v.boolean(), true),
  stopOnExit: v.optional(v.boolean(), false),
  command: v.optional(v.pipe(v.array(nonEmpty), v.minLength(1)), [
    'python3', 'main.py', '--listen', '127.0.0.1', '--port', '8188', '--disable-auto-launch',
  ]),
  cwd: v.optional(nonEmpty),
  env: v.optional(v.record(v.string(), v.string()), {}),
  startTimeoutMs: v.optional(posInt(3_600_000), 120_000),
  logFile: v.optional(nonEmpty),
  logMaxBytes: v.optional(posInt(), 10 * 1024 * 1024),
  requestTimeoutMs: v.optional(posInt(3_600_000), 30_000),
  maxReplyBytes: v.optional(posInt(), 32 * 1024 * 1024),
  maxMessageBytes: v.optional(posInt(), 8 * 1024 * 1024),
  healthTimeoutMs: v.optional(posInt(60_000), 1500),
  restart: v.optional(ComfyUIRestartSchema, {}),
});

const WebhookRetrySchema = v.strictObject({
  firstDelayMs: v.optional(posInt(86_400_000), 5000),
  maxDelayMs: v.optional(posInt(86_400_000), 3_600_000),
  giveUpAfterMs: v.optional(posInt(30 * 86_400_000), 86_400_000),
});

const WebhooksSchema = v.strictObject({
  /** Standard Webhooks signing secret `whsec_<base64>`; without one, jobs with a webhook are refused. */
  secret: v.optional(v.string()),
  /** Hosts a webhook may target: `host` exactly, or `.suffix` / `*.suffix` (any host below it); empty refuses all. */
  urlAllow: v.optional(v.array(nonEmpty), []),
  /** Also allow loopback addresses (a receiver on the same box; tests). Private and link-local ones never. */
  allowLoopback: v.optional(v.boolean(), false),
  timeoutMs: v.optional(posInt(600_000), 10_000),
  concurrency: v.optional(posInt(256), 8),
  retry: v.optional(WebhookRetrySchema, {}),
});

const GiB = 1024 * 1024 * 1024;
const InputsSchema = v.strictObject({
  /** Per input file (upload, inline or URL). */
  maxFileBytes: v.optional(posInt(1024 * GiB), 2 * GiB),
  /** Inputs per job. */
  maxInputs: v.optional(posInt(10_000), 64),
  /** A whole multipart request (every part and its headers). */
  maxRequestBytes: v.optional(posInt(4096 * GiB), 16 * GiB),
  /** Bytes of one multipart part's headers. */
  maxPartHeaderBytes: v.optional(posInt(1024 * 1024), 16 * 1024),
  /** Host names (`files.example.com`) or suffixes (`.example.com`) URL inputs may come from. */
  urlAllow: v.optional(v.array(nonEmpty), []),
  /** Whole-fetch timeout of one URL input. */
  urlTimeoutMs: v.optional(posInt(24 * 3_600_000), 600_000),
  urlMaxRedirects: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(20)), 5),
  /** Tests only: lets URL inputs reach loopback addresses (every other blocked range stays blocked). */
  unsafeAllowLoopback: v.optional(v.boolean(), false),
});

const MediaSchema = v.strictObject({
  ffmpeg: v.optional(nonEmpty, 'ffmpeg'),
  ffprobe: v.optional(nonEmpty, 'ffprobe'),
  encoder: v.optional(v.picklist(['libx264', 'h264_nvenc']), 'libx264'),
  timeoutS: v.optional(posInt(86_400), 3600),
});

export const ConfigSchema = v.strictObject({
  $schema: v.optional(v.string()),
  apiKey: v.optional(v.string()),
  host: v.optional(nonEmpty, '127.0.0.1'),
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), 8787),
  runsDir: v.optional(nonEmpty, './runs'),
  maxBodyBytes: v.optional(posInt(1024 * 1024 * 1024), 32 * 1024 * 1024),
  maxJsonValues: v.optional(posInt(100_000_000), 200_000),
  maxJsonArrayLength: v.optional(posInt(100_000_000), 10_000),
  manifestCacheBytes: v.optional(posInt(), 4 * 1024 * 1024),
  jobParserOffThreadBytes: v.optional(posInt(), 256 * 1024),
  jobParserMaxQueued: v.optional(posInt(1000), 4),
  defaultTimeoutS: v.optional(posInt(86_400), 3600),
  requestLog: v.optional(v.boolean(), true),
  headersTimeoutMs: v.optional(posInt(3_600_000), 10_000),
  requestTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(86_400_000)), 300_000),
  maxConnections: v.optional(posInt(1_000_000), 1000),
  fdReserve: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000)), 256),
  umask: v.optional(v.pipe(v.string(), v.regex(/^0?[0-7]{3}$/, 'must be an octal mask such as "027"')), '027'),
  logPathMaxChars: v.optional(posInt(65_536), 256),
  logUnauthenticatedPerSec: v.optional(posInt(1_000_000), 20),
  comfyui: v.optional(ComfyUISchema, {}),
  webhooks: v.optional(WebhooksSchema, {}),
  inputs: v.optional(InputsSchema, {}),
  media: v.optional(MediaSchema, {}),
});

type Parsed = v.InferOutput<typeof ConfigSchema>;
export type ComfyUIConfig = Readonly<Omit<Parsed['comfyui'], 'restart' | 'logFile' | 'env' | 'command'>> & {
  readonly logFile: string;
  readonly env: Readonly<Record<string, string>>;
  readonly command: readonly string[];
  readonly restart: Readonly<Parsed['comfyui']['restart']>;
};
export type MediaConfig = Readonly<Parsed['media']>;
export type WebhooksConfig = Readonly<Omit<Parsed['webhooks'], 'urlAllow' | 'retry'>> & {
  readonly urlAllow: readonly string[];
  readonly retry: Readonly<Parsed['webhooks']['retry']>;
};
export type InputsConfig = Readonly<Omit<Parsed['inputs'], 'urlAllow'>> & { readonly urlAllow: readonly string[] };
export type Config = Readonly<Omit<Parsed, '$schema' | 'apiKey' | 'comfyui' | 'webhooks' | 'inputs' | 'media'>> & {
  readonly apiKey: string;
  readonly comfyui: ComfyUIConfig;
  readonly webhooks: WebhooksConfig;
  readonly inputs: InputsConfig;
  readonly media: MediaConfig;
  /** Where the config file was read from, or null for built-in defaults. */
  readonly source: string | null;
};

/**
 * Why a key cannot be used, or null. Node trims header values and reads them as Latin-1, so a
 * key with outer whitespace, a control character or a character above U+00FF can never be
 * matched; a key of one repeated character is trivially guessed.
 */
export function keyProblem(key: string): string | null {
  if (key.length < MIN_KEY_LENGTH) return `too short (${key.length} characters); use at least ${MIN_KEY_LENGTH}`;
  if (key !== key.trim()) return 'has leading or trailing whitespace, which HTTP drops from header values: no request could match it';
  const codes = [...key].map((ch) => ch.codePointAt(0) ?? 0);
  if (codes.some((c) => c < 0x20 || c === 0x7f)) return 'holds a control character (newline, tab, …), which cannot be sent in a header';
  if (codes.some((c) => c > 0xff)) return 'holds a character outside Latin-1, which a header cannot carry as such; use ASCII';
  if (new Set(key).size === 1) return 'is one character repeated: trivially guessed';
  return null;
}

/** A config that cannot be used; `message` names every bad field. */
export class ConfigError extends Error {
  constructor(
    readonly problems: readonly string[],
    source: string | null = null,
  ) {
    super(`invalid VIDAX configuration${source ? ` (config file ${source})` : ''}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Env overrides: each sets one field (its dot path is in ENV_PATHS). A path given in the
 * environment resolves against the working directory, like any command-line path; only a config
 * file's own paths resolve against that file's folder.
 */
const ENV_OVERRIDES: Record<string, (raw: Record<string, unknown>, value: string, cwd: string) => void> = {
  VIDAX_API_KEY: (raw, value) => { raw.apiKey = value; },
  VIDAX_HOST: (raw, value) => { raw.host = value; },
  VIDAX_PORT: (raw, value) => { raw.port = /^\d+$/.test(value) ? Number(value) : value; },
  VIDAX_RUNS_DIR: (raw, value, cwd) => { raw.runsDir = resolve(cwd, value); },
  VIDAX_WEBHOOKS_SECRET: (raw, value) => {
    const webhooks = isObject(raw.webhooks) ? raw.webhooks : {};
    raw.webhooks = { ...webhooks, secret: value };
  },
  VIDAX_COMFYUI_URL: (raw, value) => {
    const comfyui = isObject(raw.comfyui) ? raw.comfyui : {};
    raw.comfyui = { ...comfyui, url: value };
  },
};

/** The field each env override sets, to name the variable in a problem about that field. */
const ENV_PATHS: Record<string, string> = {
  apiKey: 'VIDAX_API_KEY',
  host: 'VIDAX_HOST',
  port: 'VIDAX_PORT',
  runsDir: 'VIDAX_RUNS_DIR',
  'webhooks.secret': 'VIDAX_WEBHOOKS_SECRET',
  'comfyui.url': 'VIDAX_COMFYUI_URL',
};
/** Values never echoed in a problem. */
const SECRET_PATHS = new Set(['apiKey', 'webhooks.secret']);

/** One valibot issue in plain words (what is wrong with the value, not the schema's jargon). */
function plainIssue(path: string, issue: v.BaseIssue<unknown>): string {
  const req = (issue as { requirement?: unknown }).requirement;
  if (path === 'port' || path.endsWith('.port')) return 'not a port number (0 to 65535)';
  switch (issue.type) {
    case 'strict_object':
      return issue.expected === 'never' ? 'unknown setting' : 'must be an object ({…})';
    case 'object':
    case 'record':
      return 'must be an object ({…})';
    case 'number':
      return 'not a number';
    case 'integer':
      return 'must be a whole number';
    case 'string':
      return 'must be a string';
    case 'boolean':
      return 'must be true or false';
    case 'array':
      return 'must be a list ([…])';
    case 'min_value':
      return `must be at least ${String(req)}`;
    case 'max_value':
      return `must be at most ${String(req)}`;
    case 'min_length':
      return req === 1 ? 'must not be empty' : `must have at least ${String(req)} entries`;
    case 'url':
      return 'not a URL (e.g. http://127.0.0.1:8188)';
    default:
      return issue.message;
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export interface LoadConfigOptions {
  /** The environment to read; only the adapter passes `process.env`. */
  env: Readonly<Record<string, string | undefined>>;
  /** Folder that holds `config/vidax.json` when `VIDAX_CONFIG` is not set. */
  cwd: string;
}

/** Reads defaults → config file → env overrides, validates once, returns a frozen config. */
export function loadConfig({ env, cwd }: LoadConfigOptions): Config {
  const fromEnv: Record<string, string> = {};
  const file = env.VIDAX_CONFIG ? resolve(cwd, env.VIDAX_CONFIG) : resolve(cwd, 'config/vidax.json');
  let raw: Record<string, unknown> = {};
  let source: string | null = null;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isObject(parsed)) throw new ConfigError([`${file}: must hold a JSON object`]);
    raw = parsed;
    source = file;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing || env.VIDAX_CONFIG) throw new ConfigError([`${file}: ${(err as Error).message}`]);
  }
  for (const [name, apply] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      apply(raw, value, cwd);
      fromEnv[Object.keys(ENV_PATHS).find((p) => ENV_PATHS[p] === name) ?? name] = value;
    }
  }
  return parseConfig(raw, source ? dirname(source) : cwd, source, fromEnv);
}

/**
 * Validates a raw config object; relative paths resolve against `baseDir`. `fromEnv` (dot path →
 * raw value) says which fields came from the environment: their problems name the variable.
 * Each field gets one problem, in plain words.
 */
export function parseConfig(raw: unknown, baseDir: string, source: string | null = null, fromEnv: Readonly<Record<string, string>> = {}): Config {
  const result = v.safeParse(ConfigSchema, raw, { abortEarly: false });
  const problems = new Map<string, string>();
  const add = (path: string, message: string) => {
    if (problems.has(path)) return; // one problem per field
    const env = ENV_PATHS[path];
    const label = env && path in fromEnv ? (SECRET_PATHS.has(path) ? `${env} sets ${path}` : `${env}=${fromEnv[path]}`) : path;
    problems.set(path, `${label}: ${message}`);
  };
  if (!result.success) {
    for (const issue of result.issues) add(v.getDotPath(issue) ?? '(root)', plainIssue(v.getDotPath(issue) ?? '', issue));
    throw new ConfigError([...problems.values()], source);
  }
  const c = result.output;
  if (!c.apiKey) {
    add('apiKey', 'no API key configured; set env VIDAX_API_KEY or "apiKey" in config/vidax.json (at least 16 characters, e.g. `openssl rand -hex 24`)');
  } else {
    const weak = keyProblem(c.apiKey);
    if (weak) add('apiKey', `${weak}; e.g. \`openssl rand -hex 24\``);
  }
  if (c.webhooks.secret !== undefined) {
    const problem = secretProblem(c.webhooks.secret);
    if (problem) add('webhooks.secret', problem);
  }
  if (problems.size > 0) throw new ConfigError([...problems.values()], source);
  const runsDir = resolve(baseDir, c.runsDir);
  const { $schema: _schema, ...rest } = c;
  const comfyui = Object.freeze({
    ...c.comfyui,
    ...(c.comfyui.cwd === undefined ? {} : { cwd: resolve(baseDir, c.comfyui.cwd) }),
    logFile: resolve(baseDir, c.comfyui.logFile ?? resolve(runsDir, '..', 'comfyui.log')),
    env: Object.freeze({ ...c.comfyui.env }),
    command: Object.freeze([...c.comfyui.command]),
    restart: Object.freeze({ ...c.comfyui.restart }),
  });
  // A binary given as a path (not a bare name looked up in PATH) resolves like the other paths.
  const bin = (b: string) => (b.includes('/') ? resolve(baseDir, b) : b);
  const media = Object.freeze({ ...c.media, ffmpeg: bin(c.media.ffmpeg), ffprobe: bin(c.media.ffprobe) });
  const webhooks = Object.freeze({
    ...c.webhooks,
    urlAllow: Object.freeze([...c.webhooks.urlAllow]),
    retry: Object.freeze({ ...c.webhooks.retry }),
  });
  const inputs = Object.freeze({ ...c.inputs, urlAllow: Object.freeze([...c.inputs.urlAllow]) });
  const config: Config = { ...rest, apiKey: c.apiKey as string, runsDir, comfyui, webhooks, inputs, media, source };
  return Object.freeze(config);
}
