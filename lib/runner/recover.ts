import type { ComfyUIClient } from '../comfyui/client.ts';
import type { Manifest } from '../runs/manifest.ts';

/**
 * For a run a previous VIDAX left `running`: is its prompt still in ComfyUI's history or
 * queue (re-attach), and if not, why (fail COMFYUI_PROMPT_LOST)?
 */
export async function probePrompt(
  comfyui: Pick<ComfyUIClient, 'history' | 'queue'>,
  m: Manifest,
): Promise<{ promptId: string | null; found: boolean; why: string }> {
  const promptId = typeof m.phases.comfyui.prompt_id === 'string' ? m.phases.comfyui.prompt_id : null;
  if (!promptId) return { promptId, found: false, why: 'VIDAX stopped before the prompt was submitted' };
  try {
    if ((await comfyui.history(promptId)) !== null) return { promptId, found: true, why: '' };
    const q = await comfyui.queue();
    const found = [...q.running, ...q.pending].some((item) => item.prompt_id === promptId);
    return { promptId, found, why: "the prompt is neither in ComfyUI's queue nor in its history" };
  } catch (err) {
    return {
      promptId,
      found: false,
      why: `ComfyUI is unreachable (${(err as Error).message}); a restarted ComfyUI has lost its queue and history`,
    };
  }
}
