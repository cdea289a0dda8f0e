import { execa } from 'execa';
import { dieWithParent } from './leftovers.ts';

/** The last `maxChars` of a stream, as lines without ANSI colours. */
function createTail(maxChars = 8192) {
  let text = '';
  return {
    push(chunk: string | Uint8Array) {
      text = (text + (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))).slice(-maxChars);
    },
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI escapes
    lines: (n = 20) => text.replace(/\x1b\[[0-9;]*m/g, '').split(/\r?\n/).filter((l) => l.trim() !== '').slice(-n),
  };
}

/** A media step that failed: a catalogue code, a message, ffmpeg's last lines in `details`. */
export class MediaFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'MediaFailure';
  }
}

/** The run's signal fired (VIDAX stopping, a cancel): `reason` is the signal's reason. */
export class MediaAborted extends Error {
  constructor(readonly reason: unknown) {
    super('media step aborted');
    this.name = 'MediaAborted';
  }
}

/** One snapshot of `-progress pipe:1`. */
export interface FfmpegProgress {
  frame: number | null;
  out_time_s: number | null;
  speed: string | null;
  /** out_time_s / total_s, 0..1, when the total is known. */
  ratio: number | null;
}

export interface FfmpegRun {
  bin: string;
  /** `setpriv` to start ffmpeg through so it dies with VIDAX (see dieWithParent), when found. */
  setpriv?: string | null | undefined;
  /** Arguments after VIDAX's own (`-hide_banner -nostdin -y -nostats -progress pipe:1`). */
  args: readonly string[];
  /** The run directory: every path in `args` is relative to it and chosen by VIDAX. */
  cwd: string;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Expected output duration, to turn out_time into a ratio (else the input's `Duration:` line). */
  totalS?: number | null | undefined;
  onProgress?: ((p: FfmpegProgress) => void) | undefined;
  /** Code of a non-zero exit (e.g. ENCODE_FAILED, STABILIZE_FAILED). */
  failCode: string;
  /** What the step was, for messages ("encoding final.mp4"). */
  what: string;
}

const num = (s: string | undefined) => (s === undefined || s === 'N/A' || s === '' ? null : Number.isFinite(Number(s)) ? Number(s) : null);

/**
 * Runs ffmpeg once: execa with an argv (never a shell), stdin ignored and `-nostdin`, killed
 * (SIGTERM, SIGKILL 2 s later) on timeout or when `signal` fires. Progress lines become
 * `onProgress` calls; the last 8 KiB of stderr go into a failure's `details.last_lines`.
 */
export async function runFfmpeg(run: FfmpegRun): Promise<void> {
  if (run.signal?.aborted) throw new MediaAborted(run.signal.reason);
  const argv = ['-hide_banner', '-nostdin', '-y', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.5', ...run.args];
  const tail = createTail(8192);
  const [file, args] = dieWithParent(run.setpriv, run.bin, argv);
  const child = execa(file, args, {
    cwd: run.cwd,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    timeout: run.timeoutMs,
    forceKillAfterDelay: 2000,
    ...(run.signal ? { cancelSignal: run.signal } : {}),
    env: { AV_LOG_FORCE_NOCOLOR: '1' },
  });
  let pending = '';
  let snap: Record<string, string> = {};
  // Without a known total, the first input's `Duration: HH:MM:SS.cc` (printed before any frame) is it.
  let totalS = run.totalS ?? null;
  let head = totalS === null ? '' : null;
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const key = line.slice(0, eq).trim();
      snap[key] = line.slice(eq + 1).trim();
      if (key !== 'progress') continue;
      const us = num(snap.out_time_us) ?? num(snap.out_time_ms);
      const outS = us === null ? null : Math.max(0, us / 1e6);
      const ratio = outS !== null && totalS ? Math.min(1, Math.round((outS / totalS) * 1000) / 1000) : null;
      run.onProgress?.({ frame: num(snap.frame), out_time_s: outS === null ? null : Math.round(outS * 1000) / 1000, speed: snap.speed ?? null, ratio });
      snap = {};
    }
  });
  child.stderr?.on('data', (d: Buffer) => {
    tail.push(d);
    if (head === null) return;
    head += d.toString('utf8');
    const m = /Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(head);
    if (m) totalS = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) || null;
    if (m || head.length > 16_384) head = null;
  });
  const result = await child;
  if (result.isCanceled || run.signal?.aborted) throw new MediaAborted(run.signal?.reason);
  const details = { exit_code: result.exitCode ?? null, signal: result.signal ?? null, last_lines: tail.lines(12) };
  if (result.timedOut) {
    throw new MediaFailure('MEDIA_TIMEOUT', `${run.what} did not finish within ${Math.round(run.timeoutMs / 1000)} s; ffmpeg was killed`, details);
  }
  if (result.failed || result.exitCode !== 0) {
    const reason = result.exitCode === undefined ? (result.shortMessage ?? 'ffmpeg could not run') : `ffmpeg exited with ${result.exitCode ?? result.signal}`;
    const last = details.last_lines.slice(-3).join(' | ');
    throw new MediaFailure(run.failCode, `${run.what} failed: ${reason}${last ? `: ${last}` : ''}`, details);
  }
}
