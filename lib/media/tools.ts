import { execa } from 'execa';

/** What VIDAX found at start about ffmpeg and ffprobe (reported by GET /health). */
export interface MediaTools {
  /** ffmpeg and ffprobe run, and an H.264 encoder and the AAC encoder exist. */
  ok: boolean;
  ffmpeg: { path: string; version: string } | null;
  ffprobe: { path: string; version: string } | null;
  /** The vidstabdetect and vidstabtransform filters exist (libvidstab). */
  vidstab: boolean;
  /** The encoders VIDAX may use that this ffmpeg has (libx264, h264_nvenc, aac). */
  encoders: string[];
  /** The H.264 encoder encode uses: `media.encoder` when present, else libx264. */
  encoder: string | null;
  /** Why `ok` is false, each saying what to install. */
  problems: string[];
  /** util-linux `setpriv` with `--pdeathsig` (Linux): media tools start through it to die with VIDAX. */
  setpriv?: string | null;
}

export interface MediaConfig {
  ffmpeg: string;
  ffprobe: string;
  encoder: 'libx264' | 'h264_nvenc';
}

const KNOWN_ENCODERS = ['libx264', 'h264_nvenc', 'aac'];
const INSTALL = 'install ffmpeg (Debian/Ubuntu: `apt-get install -y ffmpeg`) or set media.ffmpeg/media.ffprobe to its binaries';

async function run(bin: string, args: string[]): Promise<string | null> {
  try {
    const r = await execa(bin, args, { timeout: 10_000, stdin: 'ignore', reject: false, maxBuffer: 4 * 1024 * 1024 });
    return r.exitCode === 0 ? String(r.stdout) : null;
  } catch {
    return null;
  }
}

const versionOf = (out: string | null) => out?.match(/version (\S+)/)?.[1] ?? null;

/** Runs `-version`, `-filters` and `-encoders` once (in parallel); never throws. */
export async function detectMediaTools(cfg: MediaConfig): Promise<MediaTools> {
  const [ffmpegVersion, probeVersion, filters, encoders, setprivHelp] = await Promise.all([
    run(cfg.ffmpeg, ['-hide_banner', '-version']),
    run(cfg.ffprobe, ['-hide_banner', '-version']),
    run(cfg.ffmpeg, ['-hide_banner', '-filters']),
    run(cfg.ffmpeg, ['-hide_banner', '-encoders']),
    process.platform === 'linux' ? run('setpriv', ['--help']) : Promise.resolve(null),
  ]);
  const problems: string[] = [];
  const fv = versionOf(ffmpegVersion);
  const pv = versionOf(probeVersion);
  if (!fv) problems.push(`ffmpeg not found or not runnable at "${cfg.ffmpeg}": ${INSTALL}`);
  if (!pv) problems.push(`ffprobe not found or not runnable at "${cfg.ffprobe}": ${INSTALL}`);
  const has = (list: string | null, name: string) => new RegExp(`^\\s*\\S+\\s+${name}\\s`, 'm').test(list ?? '');
  const vidstab = has(filters, 'vidstabdetect') && has(filters, 'vidstabtransform');
  const found = KNOWN_ENCODERS.filter((e) => has(encoders, e));
  const encoder = found.includes(cfg.encoder) ? cfg.encoder : found.includes('libx264') ? 'libx264' : null;
  if (fv && !encoder) problems.push('ffmpeg has no H.264 encoder (libx264): install an ffmpeg built with --enable-libx264 (Debian\'s `ffmpeg` package has it)');
  if (fv && !found.includes('aac')) problems.push('ffmpeg has no AAC encoder: install a full ffmpeg build');
  return {
    ok: problems.length === 0,
    ffmpeg: fv ? { path: cfg.ffmpeg, version: fv } : null,
    ffprobe: pv ? { path: cfg.ffprobe, version: pv } : null,
    vidstab,
    encoders: found,
    encoder,
    problems,
    setpriv: setprivHelp?.includes('--pdeathsig') ? 'setpriv' : null,
  };
}

/** The `media` field of GET /health. */
export const healthOf = (t: MediaTools) => ({
  ok: t.ok,
  ffmpeg: t.ffmpeg?.version ?? null,
  ffprobe: t.ffprobe?.version ?? null,
  vidstab: t.vidstab,
  encoders: t.encoders,
  encoder: t.encoder,
  ...(t.problems.length > 0 ? { problems: t.problems } : {}),
});
