import type { ProcessManager } from '../lib/comfyui/process-manager.ts';
import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import { ComfyUIHealthSchema } from '../lib/api/schemas.ts';

export interface ComfyUIHealthContext extends FunctionContext {
  readonly processManager: Pick<ProcessManager, 'health'>;
}

/** GET /comfyui/health: ComfyUI's state as VIDAX sees it; 200 always (`ok:false` when not ready). */
export default defineFunction<ComfyUIHealthContext>({
  method: 'GET',
  path: '/comfyui/health',
  summary: "ComfyUI's state as VIDAX sees it",
  description: 'Always 200, within about comfyui.healthTimeoutMs even when ComfyUI hangs; `ok: false` when it is not ready.',
  tags: ['comfyui'],
  responses: { 200: { description: 'the health of ComfyUI', schema: ComfyUIHealthSchema } },
  handler: async ({ ctx }) => json(await ctx.processManager.health()),
});
