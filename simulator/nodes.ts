// The model-free node set: object_info entries (as the real server reports them) plus what each node does.
import { blurFrame, type Frame, invertFrame, solidFrame } from './png.ts';
import { LOADERS } from './loaders.ts';
import type { AudioRef } from './media.ts';
import { saveFrames, saveVideo } from './save.ts';

export type Image = Frame[];
export interface Video {
  frames: Frame[];
  fps: number;
  /** From CreateVideo's optional `audio` (LoadAudio's output) or a loaded video's own sound. */
  audio?: AudioRef | null;
}
export type InputSpec = [string | string[], Record<string, unknown>?];

export interface NodeContext {
  promptId: string;
  nodeId: string;
  outputDir: string;
  tempDir: string;
  /** The input folder loader nodes read (uploads land there). */
  inputDir: string;
  disableMetadata: boolean;
  /** Throws the interrupt if one was requested (slow nodes call it per step). */
  checkInterrupt(): void;
  progress(value: number, max: number): void;
  sleep(ms: number): Promise<void>;
}

export interface NodeResult {
  outputs: unknown[];
  ui?: Record<string, unknown[]>;
}

export interface NodeDef {
  info: Record<string, unknown> & { input: { required: Record<string, InputSpec>; optional?: Record<string, InputSpec>; hidden?: Record<string, string> }; output: string[]; output_node: boolean };
  run(inputs: Record<string, unknown>, ctx: NodeContext): Promise<NodeResult>;
}

/** A Python-like exception raised by a node. */
export class NodeError extends Error {
  constructor(
    message: string,
    readonly exceptionType = 'Exception',
    readonly traceback: string[] = [],
  ) {
    super(message);
  }
}

const HIDDEN = { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' };
const INT = (d: number, min: number, max: number, step?: number, more: Record<string, unknown> = {}): InputSpec => ['INT', { default: d, min, max, ...(step ? { step } : {}), ...more }];

function def(
  name: string,
  display: string | null,
  category: string,
  module: string,
  input: NodeDef['info']['input'],
  output: string[],
  outputNode: boolean,
  run: NodeDef['run'],
  extra: Record<string, unknown> = {},
): NodeDef {
  const order: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(input)) if (v) order[k] = Object.keys(v);
  const info = {
    input,
    input_order: order,
    output,
    output_is_list: output.map(() => false),
    output_name: [...output],
    name,
    display_name: display,
    description: (extra.description as string | undefined) ?? '',
    python_module: module,
    category,
    output_node: outputNode,
    ...extra,
  };
  return { info, run };
}

const v3 = { output_tooltips: [null], deprecated: false, experimental: false, api_node: false };
const frames = (v: unknown) => v as Image;

export const NODES: Record<string, NodeDef> = {
  EmptyImage: def(
    'EmptyImage', 'EmptyImage', 'image', 'nodes',
    { required: { width: INT(512, 1, 16384, 1), height: INT(512, 1, 16384, 1), batch_size: INT(1, 1, 4096), color: INT(0, 0, 0xffffff, 1, { display: 'color' }) } },
    ['IMAGE'], false,
    async ({ width, height, batch_size, color }) => {
      const [w, h, n] = [width as number, height as number, batch_size as number];
      if (w * h * n * 3 > 512 * 1024 * 1024) {
        throw new NodeError(`[enforce fail at alloc_cpu.cpp:75] data. DefaultCPUAllocator: not enough memory: you tried to allocate ${w * h * n * 12} bytes.`, 'RuntimeError');
      }
      const f = solidFrame(w, h, color as number);
      return { outputs: [Array.from({ length: n }, () => f)] };
    },
  ),
  SaveImage: def(
    'SaveImage', 'Save Image', 'image', 'nodes',
    {
      required: {
        images: ['IMAGE', { tooltip: 'The images to save.' }],
        filename_prefix: ['STRING', { default: 'ComfyUI', tooltip: 'The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.' }],
      },
      hidden: HIDDEN,
    },
    [], true,
    async (inp, ctx) => ({ outputs: [], ui: { images: await saveFrames(frames(inp.images), String(inp.filename_prefix), ctx.outputDir, 'output', inp, ctx.disableMetadata) } }),
    { description: 'Saves the input images to your ComfyUI output directory.' },
  ),
  PreviewImage: def(
    'PreviewImage', 'Preview Image', 'image', 'nodes',
    { required: { images: ['IMAGE'] }, hidden: HIDDEN },
    [], true,
    async (inp, ctx) => {
      const rand = Array.from({ length: 5 }, () => 'abcdefghijklmnopqrstupvxyz'[Math.floor(Math.random() * 26)]).join('');
      return { outputs: [], ui: { images: await saveFrames(frames(inp.images), `ComfyUI_temp_${rand}`, ctx.tempDir, 'temp', inp, ctx.disableMetadata, 1) } };
    },
    { description: 'Saves the input images to your ComfyUI output directory.' },
  ),
  ImageInvert: def('ImageInvert', 'Invert Image', 'image', 'nodes', { required: { image: ['IMAGE'] } }, ['IMAGE'], false, async ({ image }) => ({
    outputs: [frames(image).map(invertFrame)],
  })),
  ImageBlur: def(
    'ImageBlur', null, 'image/postprocessing', 'comfy_extras.nodes_post_processing',
    { required: { image: ['IMAGE', {}], blur_radius: INT(1, 1, 31, 1), sigma: ['FLOAT', { default: 1.0, min: 0.1, max: 10.0, step: 0.1 }] } },
    ['IMAGE'], false,
    async ({ image, blur_radius, sigma }, ctx) => {
      const r = blur_radius as number;
      const first = frames(image)[0];
      // torch's reflect padding (as ComfyUI's blur pads) needs the radius below each dimension.
      if (first && (r >= first.width || r >= first.height)) {
        const dim = r >= first.width ? 3 : 2;
        throw new NodeError(
          `Argument #4: Padding size should be less than the corresponding input dimension, but got: padding (${r}, ${r}) at dimension ${dim} of input 4`,
          'RuntimeError',
          ['  File "/opt/ComfyUI/comfy_extras/nodes_post_processing.py", line 85, in blur\n    padded_image = F.pad(image, (blur_radius,blur_radius,blur_radius,blur_radius), \'reflect\')\n'],
        );
      }
      const out: Frame[] = [];
      let pixels = 0;
      for (const f of frames(image)) {
        // Real blur math for small frames; bigger ones pass through so the event loop stays free.
        out.push(f.width * f.height * (2 * r + 1) <= 1 << 20 ? blurFrame(f, r, sigma as number) : f);
        pixels += f.width * f.height;
      }
      // Slow on purpose, like a CPU blur: 40 ms per radius unit per 256x256 pixels (r=31 at 256x256: ~1.2 s),
      // so an interrupt sent while it runs lands at the next node start, as in the recordings.
      await ctx.sleep(Math.round((r * 40 * pixels) / 65536));
      return { outputs: [out] };
    },
    v3,
  ),
  RepeatImageBatch: def(
    'RepeatImageBatch', 'RepeatImageBatch', 'image/batch', 'comfy_extras.nodes_images',
    { required: { image: ['IMAGE'], amount: INT(1, 1, 4096) } },
    ['IMAGE'], false,
    async ({ image, amount }) => ({ outputs: [Array.from({ length: amount as number }, () => frames(image)).flat()] }),
  ),
  VidaxSlowSteps: def(
    'VidaxSlowSteps', 'Slow Steps (simulator)', 'vidax/testing', 'vidax_simulator',
    { required: { images: ['IMAGE'], steps: INT(10, 1, 10000, 1), step_ms: INT(20, 0, 60000, 1) } },
    ['IMAGE'], false,
    async ({ images, steps, step_ms }, ctx) => {
      const n = steps as number;
      for (let i = 1; i <= n; i++) {
        ctx.checkInterrupt();
        await ctx.sleep(step_ms as number);
        ctx.progress(i, n);
      }
      return { outputs: [images] };
    },
    { description: 'Passes images through after N steps of step_ms each, reporting progress per step.' },
  ),
  CreateVideo: def(
    'CreateVideo', 'Create Video', 'image/video', 'comfy_extras.nodes_video',
    {
      required: { images: ['IMAGE', { tooltip: 'The images to create a video from.' }], fps: ['FLOAT', { default: 30.0, min: 1.0, max: 120.0, step: 1.0 }] },
      optional: { audio: ['AUDIO', { tooltip: 'The audio to add to the video.' }] },
    },
    ['VIDEO'], false,
    async ({ images, fps, audio }) => ({
      outputs: [{ frames: frames(images), fps: fps as number, ...(audio ? { audio } : {}) } satisfies Video],
    }),
  ),
  SaveVideo: def(
    'SaveVideo', 'Save Video', 'image/video', 'comfy_extras.nodes_video',
    {
      required: {
        video: ['VIDEO', { tooltip: 'The video to save.' }],
        filename_prefix: ['STRING', { default: 'video/ComfyUI', tooltip: 'The prefix for the file to save.' }],
        format: [['auto', 'mp4'], { default: 'auto', tooltip: 'The format to save the video as.' }],
        codec: [['auto', 'h264'], { default: 'auto', tooltip: 'The codec to use for the video.' }],
      },
      hidden: HIDDEN,
    },
    [], true,
    async (inp, ctx) => ({ outputs: [], ui: { images: await saveVideo(inp.video as Video, String(inp.filename_prefix), ctx.outputDir), animated: [true] } }),
    { description: 'Saves the input images to your ComfyUI output directory.' },
  ),
  ...LOADERS,
};

/** The node class of that name, or undefined (never an Object.prototype member). */
export function nodeDef(classType: unknown): NodeDef | undefined {
  return typeof classType === 'string' && Object.hasOwn(NODES, classType) ? NODES[classType] : undefined;
}
