import type { ProcessManager } from '../lib/comfyui/process-manager.ts';
import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { json } from '../lib/http/respond.ts';

export interface ComfyHealthContext extends FunctionContext {
  readonly processManager: Pick<ProcessManager, 'health'>;
}

/** GET /comfyui/health: ComfyUI's state as VIDAX sees it; 200 always (`ok:false` when not ready). */
export default defineFunction<ComfyHealthContext>({
  method: 'GET',
  path: '/comfyui/health',
  handler: async ({ ctx }) => json(await ctx.processManager.health()),
});
