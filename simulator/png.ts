// Real image data for the simulator: RGB frames and a PNG encoder (node:zlib).
import { crc32, deflateSync } from 'node:zlib';

/** One RGB frame, 8 bits per channel, rows top to bottom. */
export interface Frame {
  width: number;
  height: number;
  rgb: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function chunk(type: string, data: Buffer): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  return Buffer.concat([u32(data.length), typed, u32(crc32(typed))]);
}

function textChunk(key: string, value: string): Buffer {
  if (/^[\x20-\xff\n]*$/.test(value)) return chunk('tEXt', Buffer.concat([Buffer.from(`${key}\0`, 'latin1'), Buffer.from(value, 'latin1')]));
  return chunk('iTXt', Buffer.concat([Buffer.from(`${key}\0\0\0\0\0`, 'latin1'), Buffer.from(value, 'utf8')]));
}

/** Encodes a frame as an 8-bit RGB PNG with optional text chunks (SaveImage writes `prompt` and `workflow`). */
export function encodePng(f: Frame, text: Record<string, string> = {}, level = 4): Buffer {
  const ihdr = Buffer.concat([u32(f.width), u32(f.height), Buffer.from([8, 2, 0, 0, 0])]);
  const stride = f.width * 3;
  const raw = Buffer.alloc((stride + 1) * f.height);
  for (let y = 0; y < f.height; y++) raw.set(f.rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const texts = Object.entries(text).map(([k, v]) => textChunk(k, v));
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), ...texts, chunk('IDAT', deflateSync(raw, { level })), chunk('IEND', Buffer.alloc(0))]);
}

/** A solid-colour frame (0xRRGGBB), like EmptyImage. */
export function solidFrame(width: number, height: number, color: number): Frame {
  const rgb = new Uint8Array(width * height * 3);
  const r = (color >> 16) & 0xff;
  const g = (color >> 8) & 0xff;
  const b = color & 0xff;
  for (let i = 0; i < rgb.length; i += 3) {
    rgb[i] = r;
    rgb[i + 1] = g;
    rgb[i + 2] = b;
  }
  return { width, height, rgb };
}

export function invertFrame(f: Frame): Frame {
  const rgb = new Uint8Array(f.rgb.length);
  for (let i = 0; i < rgb.length; i++) rgb[i] = 255 - f.rgb[i]!;
  return { ...f, rgb };
}

/** Separable gaussian blur (kernel 2r+1, edges clamped), like ImageBlur. */
export function blurFrame(f: Frame, radius: number, sigma: number): Frame {
  const k: number[] = [];
  for (let i = -radius; i <= radius; i++) k.push(Math.exp(-(i * i) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  const kernel = k.map((v) => v / sum);
  const pass = (src: Uint8Array, horizontal: boolean): Uint8Array => {
    const out = new Uint8Array(src.length);
    const { width: w, height: h } = f;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          let acc = 0;
          for (let j = -radius; j <= radius; j++) {
            const xx = horizontal ? Math.min(w - 1, Math.max(0, x + j)) : x;
            const yy = horizontal ? y : Math.min(h - 1, Math.max(0, y + j));
            acc += src[(yy * w + xx) * 3 + c]! * kernel[j + radius]!;
          }
          out[(y * w + x) * 3 + c] = Math.round(acc);
        }
      }
    }
    return out;
  };
  return { ...f, rgb: pass(pass(f.rgb, true), false) };
}
