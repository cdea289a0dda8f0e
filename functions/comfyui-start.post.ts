import type { ProcessManager } from '../lib/comfyui/process-manager.ts';
import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';
import { ComfyUIStartedSchema } from '../lib/api/schemas.ts';

export interface ComfyUIStartContext extends FunctionContext {
  readonly processManager: Pick<ProcessManager, 'ensureComfyUI'>;
}

/**
 * POST /comfyui/start: makes ComfyUI healthy (adopting one that already answers, else starting
 * it) and answers 202 once it is. Failures are ComfyUIErrors: 500 COMFYUI_TIMEOUT / COMFYUI_START_FAILED.
 */
export default defineFunction<ComfyUIStartContext>({
  method: 'POST',
  path: '/comfyui/start',
  summary: 'Make ComfyUI healthy (adopt or start it)',
  tags: ['comfyui'],
  responses: { 202: { description: 'ComfyUI is ready', schema: ComfyUIStartedSchema } },
  errors: ['COMFYUI_START_FAILED', 'COMFYUI_TIMEOUT'],
  handler: async ({ ctx }) => {
    const { url, managed, pid } = await ctx.processManager.ensureComfyUI();
    return json({ ok: true, status: 'ready', url, managed, pid }, 202);
  },
});
