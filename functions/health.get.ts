import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import { HealthSchema } from '../lib/api/schemas.ts';

export interface HealthContext extends FunctionContext {
  readonly version: string;
  readonly startedAt: number;
}

/** GET /health: liveness of VIDAX itself (not of ComfyUI; see /comfyui/health). */
export default defineFunction<HealthContext>({
  method: 'GET',
  path: '/health',
  summary: 'Liveness of VIDAX itself',
  tags: ['service'],
  responses: { 200: { description: 'VIDAX is up', schema: HealthSchema } },
  handler: ({ ctx }) =>
    json({ ok: true, version: ctx.version, uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000) }),
});
