import type { ComfyUIClient } from '../comfyui/client.ts';
import type { Manifest } from '../runs/manifest.ts';

/**
 * What ComfyUI says of a run's prompt: `found` (in its history or queue: re-attach), `absent`
 * (ComfyUI answered, without it), or `unknown` (ComfyUI did not answer: unreachable, hanging,
 * garbage). Only `absent` can make a prompt lost; `unknown` means "look again later".
 */
export type PromptProbe =
  | { state: 'found'; promptId: string }
  | { state: 'absent'; promptId: string | null; why: string }
  | { state: 'unknown'; promptId: string; why: string };

export async function probePrompt(
  comfyui: Pick<ComfyUIClient, 'history' | 'queue'>,
  m: Manifest,
  timeoutMs?: number,
): Promise<PromptProbe> {
  const promptId = typeof m.phases.comfyui.prompt_id === 'string' ? m.phases.comfyui.prompt_id : null;
  if (!promptId) return { state: 'absent', promptId, why: 'VIDAX stopped before the prompt was submitted' };
  const opts = timeoutMs === undefined ? {} : { timeoutMs };
  try {
    if ((await comfyui.history(promptId, opts)) !== null) return { state: 'found', promptId };
    const q = await comfyui.queue(opts);
    if ([...q.running, ...q.pending].some((item) => item.prompt_id === promptId)) return { state: 'found', promptId };
    return { state: 'absent', promptId, why: "the prompt is neither in ComfyUI's queue nor in its history" };
  } catch (err) {
    return { state: 'unknown', promptId, why: `ComfyUI did not answer (${(err as Error).message})` };
  }
}
