// Loader nodes (LoadImage, LoadAudio, LoadVideo) reading the input folder, plus ImageScale and
// GetVideoComponents, so the video workflows run on the simulator as on ComfyUI.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { type AudioRef, decodeVideo } from './media.ts';
import { decodePng } from './png-decode.ts';
import { type Frame, solidFrame } from './png.ts';
import { type Image, NodeError, type NodeDef, type Video } from './nodes.ts';

export interface Audio extends AudioRef {
  /** The uploaded file's bytes (SaveVideo muxes `file` with ffmpeg). */
  bytes: Buffer;
  sample_rate: number;
}

/** The path of `name` in the input folder, refusing escapes like ComfyUI. */
function inputPath(inputDir: string, value: unknown, what: string): string {
  const name = String(value).replace(/ \[input\]$/, '');
  const path = resolve(inputDir, name);
  const rel = relative(inputDir, path);
  if (name === '' || rel.startsWith('..') || isAbsolute(rel)) throw new NodeError(`Invalid ${what} file: ${name}`, 'ValueError');
  return path;
}

/** Reads `name` (`sub/file.png`, optionally ` [input]`) from the input folder, refusing escapes like ComfyUI. */
async function readInput(inputDir: string, value: unknown, what: string): Promise<Buffer> {
  const name = String(value).replace(/ \[input\]$/, '');
  const path = resolve(inputDir, name);
  const rel = relative(inputDir, path);
  if (name === '' || rel.startsWith('..') || isAbsolute(rel)) throw new NodeError(`Invalid ${what} file: ${name}`, 'ValueError');
  try {
    return await readFile(path);
  } catch {
    throw new NodeError(`Invalid ${what} file: ${name}`, 'ValueError');
  }
}

/** A frame for a file the PNG decoder cannot read: 64×64, coloured by the file's hash (deterministic). */
function stand_in(data: Buffer): Frame {
  return solidFrame(64, 64, createHash('sha256').update(data).digest().readUIntBE(0, 3));
}

function scale(f: Frame, width: number, height: number): Frame {
  const w = width || Math.max(1, Math.round((f.width * height) / f.height));
  const h = height || Math.max(1, Math.round((f.height * width) / f.width));
  if (w === f.width && h === f.height) return f;
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(f.height - 1, Math.floor((y * f.height) / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(f.width - 1, Math.floor((x * f.width) / w));
      rgb.set(f.rgb.subarray((sy * f.width + sx) * 3, (sy * f.width + sx) * 3 + 3), (y * w + x) * 3);
    }
  }
  return { width: w, height: h, rgb };
}

const info = (name: string, display: string, category: string, module: string, input: NodeDef['info']['input'], output: string[], names = output) => ({
  input,
  input_order: Object.fromEntries(Object.entries(input).map(([k, v]) => [k, Object.keys(v ?? {})])),
  output,
  output_is_list: output.map(() => false),
  output_name: names,
  name,
  display_name: display,
  description: '',
  python_module: module,
  category,
  output_node: false,
});

export const LOADERS: Record<string, NodeDef> = {
  LoadImage: {
    info: info('LoadImage', 'Load Image', 'image', 'nodes', { required: { image: [[], { image_upload: true }] } }, ['IMAGE', 'MASK']),
    async run({ image }, ctx) {
      const data = await readInput(ctx.inputDir, image, 'image');
      const frame = decodePng(data) ?? stand_in(data);
      return { outputs: [[frame] satisfies Image, { width: frame.width, height: frame.height }] };
    },
  },
  LoadAudio: {
    info: info('LoadAudio', 'Load Audio', 'audio', 'comfy_extras.nodes_audio', { required: { audio: [[], { audio_upload: true }] } }, ['AUDIO']),
    async run({ audio }, ctx) {
      const bytes = await readInput(ctx.inputDir, audio, 'audio');
      const rate = bytes.length >= 28 && bytes.toString('latin1', 0, 4) === 'RIFF' ? bytes.readUInt32LE(24) : 44100;
      return { outputs: [{ bytes, sample_rate: rate, file: inputPath(ctx.inputDir, audio, 'audio') } satisfies Audio] };
    },
  },
  LoadVideo: {
    info: info('LoadVideo', 'Load Video', 'image/video', 'comfy_extras.nodes_video', { required: { file: [[], { video_upload: true }] } }, ['VIDEO']),
    async run({ file }, ctx) {
      await readInput(ctx.inputDir, file, 'video'); // exists and inside the input folder
      const path = inputPath(ctx.inputDir, file, 'video');
      // Decoded for real with ffmpeg (frames in memory: small clips); its sound stays in the file.
      const v = await decodeVideo(path).catch((e: Error) => {
        throw new NodeError(e.message, 'RuntimeError');
      });
      return { outputs: [{ frames: v.frames, fps: v.fps, audio: v.hasAudio ? { file: path } : null } satisfies Video] };
    },
  },
  ImageScale: {
    info: info('ImageScale', 'Upscale Image', 'image/upscaling', 'nodes', {
      required: {
        image: ['IMAGE'],
        upscale_method: [['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']],
        width: ['INT', { default: 512, min: 0, max: 16384, step: 1 }],
        height: ['INT', { default: 512, min: 0, max: 16384, step: 1 }],
        crop: [['disabled', 'center']],
      },
    }, ['IMAGE']),
    async run({ image, width, height }) {
      return { outputs: [(image as Image).map((f) => scale(f, width as number, height as number))] };
    },
  },
  GetVideoComponents: {
    info: info('GetVideoComponents', 'Get Video Components', 'image/video', 'comfy_extras.nodes_video', { required: { video: ['VIDEO'] } }, ['IMAGE', 'AUDIO', 'FLOAT'], ['images', 'audio', 'fps']),
    async run({ video }) {
      const v = video as Video & { audio?: Audio };
      return { outputs: [v.frames, v.audio ?? null, v.fps] };
    },
  },
};
