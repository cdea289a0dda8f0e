import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import { HealthSchema } from '../lib/api/schemas.ts';
import type { Media } from '../lib/media/service.ts';
import { healthOf } from '../lib/media/tools.ts';

export interface HealthContext extends FunctionContext {
  readonly version: string;
  readonly startedAt: number;
  /** When present, `media` reports ffmpeg/ffprobe as found at start. */
  readonly media?: Media;
}

/** GET /health: liveness of VIDAX itself (not of ComfyUI; see /comfyui/health), and its media tools. */
export default defineFunction<HealthContext>({
  method: 'GET',
  path: '/health',
  summary: 'Liveness of VIDAX itself',
  tags: ['service'],
  responses: { 200: { description: 'VIDAX is up', schema: HealthSchema } },
  handler: async ({ ctx }) => {
    const body: Record<string, unknown> = { ok: true, version: ctx.version, uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000) };
    if (ctx.media) body.media = healthOf(ctx.media.peek() ?? (await ctx.media.tools()));
    return json(body);
  },
});
