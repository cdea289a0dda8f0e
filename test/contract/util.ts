// Helpers the contract scenarios share: fixtures, fresh colours, hashes, WAVs, the loudness of a
// file's sound (ffmpeg/ffprobe fixtures and verdicts: test/support/media.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffmpeg } from '../support/media.ts';
import { COMFYUI_FIXTURES } from '../support/simulator.ts';
import type { Json } from './harness.ts';

export const sha256 = (data: string | Buffer) => createHash('sha256').update(typeof data === 'string' ? readFileSync(data) : data).digest('hex');

export const fixture = (name: string): Record<string, Json> =>
  JSON.parse(readFileSync(join(COMFYUI_FIXTURES, 'workflows', `${name}.json`), 'utf8'));

let colour = Math.floor(Math.random() * 0x7fffff);
/** A colour no earlier prompt of this process used (so ComfyUI caches nothing). */
export const freshColour = () => {
  colour += 7;
  return colour;
};

/** A mono 16-bit PCM WAV of `seconds` of a sine tone (`hz`, peak `amplitude` of 32767). */
export function wav(seconds: number, rate: number, { hz = 440, amplitude = 8000 } = {}): Buffer {
  const n = Math.round(seconds * rate);
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + i * 2);
  return b;
}

/** Mean volume (dB) of a file's first audio stream, by ffmpeg's volumedetect. */
export function meanVolume(file: string): number {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', file, '-map', '0:a:0', '-af', 'volumedetect', '-f', 'null', '-'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const m = /mean_volume: (-?[\d.]+) dB/.exec(r.stderr);
  assert.ok(m, r.stderr);
  return Number(m[1]);
}

/** The clip recorded and replayed for the lip-sync stand-in: 8 frames of 64×64 testsrc at 8 fps, H.264, no sound. */
export function lipsyncClip(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'vidax-clip-'));
  try {
    const out = join(dir, 'in.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=8:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-an', '-f', 'mp4', out]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
