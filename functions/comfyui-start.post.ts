import type { ProcessManager } from '../lib/comfyui/process-manager.ts';
import { payloadTooLarge } from '../lib/errors.ts';
import { defineFunction, type FunctionContext } from '../lib/function.ts';
import { json } from '../lib/respond.ts';

export interface ComfyStartContext extends FunctionContext {
  readonly processManager: Pick<ProcessManager, 'ensureComfyUI'>;
}

/**
 * POST /comfyui/start: makes ComfyUI healthy (adopting one that already answers, else starting
 * it) and answers 202 once it is. Failures are ComfyErrors: 500 COMFYUI_TIMEOUT / COMFYUI_START_FAILED.
 */
export default defineFunction<ComfyStartContext>({
  method: 'POST',
  path: '/comfyui/start',
  handler: async ({ ctx, request }) => {
    // No body is read, but an oversized one is still refused like on every route.
    if (Number(request.headers.get('content-length') ?? 0) > ctx.config.maxBodyBytes) throw payloadTooLarge(ctx.config.maxBodyBytes);
    const { url, managed, pid } = await ctx.processManager.ensureComfyUI();
    return json({ ok: true, status: 'ready', url, managed, pid }, 202);
  },
});
