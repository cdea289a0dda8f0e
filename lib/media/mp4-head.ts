import { open } from 'node:fs/promises';

/** What encode needs to know of an MP4/MOV before ffmpeg starts. */
export interface Mp4Head {
  /** The movie's duration (`mvhd`), as ffprobe's format duration. */
  duration_s: number;
  video: boolean;
  audio: boolean;
}

const MAX_MOOV = 64 * 1024 * 1024;

/** The boxes directly inside `buf[start, end)`: type and body range. Stops at the first malformed one. */
function* children(buf: Buffer, start: number, end: number): Generator<{ type: string; start: number; end: number }> {
  let off = start;
  while (off + 8 <= end) {
    let len = buf.readUInt32BE(off);
    let header = 8;
    if (len === 1 && off + 16 <= end) {
      len = Number(buf.readBigUInt64BE(off + 8));
      header = 16;
    } else if (len === 0) len = end - off;
    if (len < header || off + len > end) return;
    yield { type: buf.toString('latin1', off + 4, off + 8), start: off + header, end: off + len };
    off += len;
  }
}

function parseMoov(moov: Buffer): Mp4Head | null {
  let duration: number | null = null;
  let video = false;
  let audio = false;
  for (const box of children(moov, 0, moov.length)) {
    if (box.type === 'mvhd' && box.end - box.start >= 32) {
      const v1 = moov[box.start] === 1;
      const scale = moov.readUInt32BE(box.start + (v1 ? 20 : 12));
      const units = v1 ? Number(moov.readBigUInt64BE(box.start + 24)) : moov.readUInt32BE(box.start + 16);
      if (scale > 0) duration = units / scale;
    }
    if (box.type !== 'trak') continue;
    for (const mdia of children(moov, box.start, box.end)) {
      if (mdia.type !== 'mdia') continue;
      for (const hdlr of children(moov, mdia.start, mdia.end)) {
        if (hdlr.type !== 'hdlr' || hdlr.end - hdlr.start < 12) continue;
        const kind = moov.toString('latin1', hdlr.start + 8, hdlr.start + 12);
        video ||= kind === 'vide';
        audio ||= kind === 'soun';
      }
    }
  }
  // A fragmented file (no duration in mvhd) or one without video: ffprobe decides.
  return duration && duration > 0 && video ? { duration_s: Math.round(duration * 1000) / 1000, video, audio } : null;
}

/**
 * Reads an MP4/MOV's `moov` box in this process (ffprobe costs a process start, ~0.1 s on a busy
 * box): the duration and whether there is video and sound. null for anything else or any doubt
 * (not ISO-BMFF, no moov, fragmented, no video track): the caller asks ffprobe then.
 */
export async function readMp4Head(path: string): Promise<Mp4Head | null> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(16);
    for (let off = 0, i = 0; off + 8 <= size && i < 64; i += 1) {
      const { bytesRead } = await fh.read(head, 0, 16, off);
      let len = bytesRead >= 8 ? head.readUInt32BE(0) : 0;
      const type = head.toString('latin1', 4, 8);
      let header = 8;
      if (len === 1 && bytesRead === 16) {
        len = Number(head.readBigUInt64BE(8));
        header = 16;
      } else if (len === 0) len = size - off;
      if (len < header || off + len > size || (i === 0 && type !== 'ftyp')) return null;
      if (type === 'moov') {
        if (len > MAX_MOOV) return null;
        const moov = Buffer.alloc(len - header);
        if ((await fh.read(moov, 0, moov.length, off + header)).bytesRead !== moov.length) return null;
        return parseMoov(moov);
      }
      off += len;
    }
    return null;
  } catch {
    return null;
  } finally {
    await fh.close();
  }
}
