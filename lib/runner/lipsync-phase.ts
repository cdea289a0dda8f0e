import { link, mkdir, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { ComfyUIClient } from '../comfyui/client.ts';
import { mintPromptId } from '../comfyui/client.ts';
import { isComfyUIError } from '../comfyui/errors.ts';
import type { EventStream } from '../comfyui/events.ts';
import { writeFileAtomic } from '../files/atomic-file.ts';
import { requireTools } from '../media/env.ts';
import { MediaAborted, MediaFailure, runFfmpeg } from '../media/ffmpeg.ts';
import type { Media } from '../media/service.ts';
import { lipsyncVideo } from '../media/lipsync-video.ts';
import { pickCurrent } from '../media/source.ts';
import { stageInput } from '../media/stage.ts';
import { type ComfyUIPhaseIO, type ComfyUIPhaseResult, finishPrompt } from './comfyui-phase.ts';
import type { LipsyncRun } from './media-phases.ts';
import { runSubfolder, type Workflow } from './prepare.ts';
import { probePrompt } from './recover.ts';

export interface LipsyncDeps {
  comfyui: ComfyUIClient;
  events: EventStream;
  media: Media;
  event(id: string, type: string, fields?: Record<string, unknown>): Promise<unknown>;
  defaultTimeoutS: number;
  pollMs: number;
  unreachableMs: number;
  progressEveryMs: number;
}

/** The comfyui phase's codes, renamed where the lipsync prompt's failure means something else. */
const RENAMED: Record<string, string> = {
  COMFYUI_REJECTED: 'LIPSYNC_REJECTED',
  COMFYUI_EXECUTION_ERROR: 'LIPSYNC_EXECUTION_ERROR',
  COMFYUI_TIMEOUT: 'LIPSYNC_TIMEOUT',
  COMFYUI_INTERRUPTED: 'LIPSYNC_INTERRUPTED',
  COMFYUI_PROMPT_LOST: 'LIPSYNC_PROMPT_LOST',
};

const INPUT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DIR = 'lipsync';

/**
 * The lipsync phase: the current video and the named audio input go to ComfyUI under
 * `vidax/<run_id>/` (names VIDAX chose), the two node inputs are set to them, and the lipsync
 * workflow runs through the comfyui phase's machinery (prompt id recorded before the submit,
 * progress, timeout with a targeted interrupt, outputs downloaded to `lipsync/outputs/`,
 * re-attach after a restart). Its first video output becomes the current video.
 */
export function createLipsync(deps: LipsyncDeps): LipsyncRun {
  return async ({ id, job, current, manifest, signal, patch, setPromptId }) => {
    const l = job.phases?.lipsync;
    if (!l?.workflow || !l.video || !l.audio) throw new MediaFailure('LIPSYNC_FAILED', 'phases.lipsync needs workflow, video and audio');
    const workdir = manifest.workdir;
    const timeoutS = l.timeout_s ?? job.timeout_s ?? deps.defaultTimeoutS;
    const io: ComfyUIPhaseIO = {
      comfyui: deps.comfyui,
      events: deps.events,
      event: (type, fields) => void deps.event(id, type.replace(/^comfyui\./, 'lipsync.'), fields),
      patchPhase: patch,
      signal,
      pollMs: deps.pollMs,
      unreachableMs: deps.unreachableMs,
      progressEveryMs: deps.progressEveryMs,
    };
    const where = { timeoutS, outputsDir: join(workdir, DIR, 'outputs'), workdir };
    const state = manifest.phases.lipsync;
    const recorded = typeof state.prompt_id === 'string' ? state.prompt_id : null;
    let result: ComfyUIPhaseResult;
    let promptId: string;
    const known = recorded ? await probePrompt(deps.comfyui, { phases: { comfyui: { prompt_id: recorded } } } as never) : null;
    if (recorded && known?.state === 'found') {
      // Re-attach after a restart: the prompt is still in ComfyUI's queue or history.
      promptId = recorded;
      void deps.event(id, 'lipsync.reattached', { prompt_id: promptId });
      const started = Date.parse(String(state.started_at ?? '')) || Date.now();
      await rm(where.outputsDir, { recursive: true, force: true });
      result = await finishPrompt(io, { ...where, promptId, deadline: started + timeoutS * 1000 });
    } else {
      await rm(join(workdir, DIR), { recursive: true, force: true }); // a re-run starts clean
      await mkdir(join(workdir, DIR, 'in'), { recursive: true });
      const video = await videoFile(deps, workdir, current, signal);
      const audioName = l.audio.input_file;
      const audioSrc = join(workdir, 'inputs', audioName);
      const ext = extname(audioName).toLowerCase();
      const audio = join(DIR, 'in', `lipsync-audio${/^\.[a-z0-9]{1,5}$/.test(ext) ? ext : '.wav'}`);
      if (!INPUT_NAME.test(audioName) || !(await link(audioSrc, join(workdir, audio)).then(() => true, () => false))) {
        throw new MediaFailure('MEDIA_INPUT_MISSING', `phases.lipsync.audio names input "${audioName}", which this run does not have`);
      }
      const subfolder = runSubfolder(id);
      const upload = async (rel: string) => {
        try {
          const up = await deps.comfyui.upload(join(workdir, rel), { subfolder, type: 'input', overwrite: true, signal });
          return up.subfolder ? `${up.subfolder}/${up.name}` : up.name;
        } catch (err) {
          if (signal.aborted) throw new MediaAborted(signal.reason);
          throw new MediaFailure(isComfyUIError(err) ? err.code : 'LIPSYNC_FAILED', `uploading ${rel.split('/').pop()} to ComfyUI failed: ${(err as Error).message}`);
        }
      };
      const graph = structuredClone(l.workflow) as Workflow;
      (graph[l.video.node] as Workflow[string]).inputs[l.video.input] = await upload(video);
      (graph[l.audio.node] as Workflow[string]).inputs[l.audio.input] = await upload(audio);
      for (const node of Object.values(graph)) {
        const prefix = node.inputs.filename_prefix;
        if (typeof prefix === 'string') node.inputs.filename_prefix = `${subfolder}/lipsync/${prefix}`;
      }
      await writeFileAtomic(join(workdir, DIR, 'workflow.json'), `${JSON.stringify(graph, null, 2)}\n`);
      promptId = mintPromptId();
      await setPromptId(promptId); // recorded before the submit: a restart finds the prompt
      const clientId = await deps.events.ready(2000).catch(() => null);
      let refused: MediaFailure | null = null;
      const submit = async () => {
        try {
          const r = await deps.comfyui.submit({ prompt: graph, promptId, ...(clientId ? { clientId } : {}) });
          void deps.event(id, 'lipsync.queued', { prompt_id: promptId, number: r.number });
        } catch (err) {
          const code = isComfyUIError(err) ? err.code : 'COMFYUI_SUBMIT_FAILED';
          refused = new MediaFailure(RENAMED[code] ?? code, (err as Error).message, isComfyUIError(err) ? err.details : undefined);
          throw err;
        }
      };
      try {
        result = await finishPrompt(io, { ...where, promptId, deadline: Date.now() + timeoutS * 1000 }, submit);
      } catch (err) {
        if (refused) throw refused;
        throw err;
      }
    }
    if (!result.ok) {
      if (result.stopped) throw new MediaAborted({ kind: 'stopped' });
      const f = result.error;
      throw new MediaFailure(RENAMED[f.code] ?? f.code, f.message, f.details);
    }
    const out = await pickCurrent(workdir, result.artifacts, 24);
    if (out?.kind !== 'video') {
      throw new MediaFailure('LIPSYNC_FAILED', `the lipsync workflow produced no video (outputs: ${result.artifacts.map((a) => a.path.split('/').pop()).join(', ') || 'none'})`);
    }
    await rm(join(workdir, DIR, 'in'), { recursive: true, force: true });
    return {
      artifacts: result.artifacts.map(({ path, bytes, sha256 }) => ({ path, bytes, sha256 })),
      fields: { output: out.path, prompt_id: promptId, outputs: result.files, queue_position: null },
      current: out,
    };
  };
}

/** The current video as one file under `lipsync/in/`: its video stream alone, or a clip made of the frames. */
async function videoFile(deps: LipsyncDeps, workdir: string, current: Parameters<LipsyncRun>[0]['current'], signal: AbortSignal): Promise<string> {
  const tools = await deps.media.tools();
  if (current.kind === 'video') return lipsyncVideo({ workdir, tools, config: deps.media.config, signal }, current.path, join(DIR, 'in'));
  const bins = requireTools({ workdir, tools, config: deps.media.config }, 'lipsync');
  const staged = await stageInput(workdir, join(DIR, 'frames'), current);
  const rel = join(DIR, 'in', 'lipsync-video.mp4');
  await runFfmpeg({
    bin: bins.ffmpeg,
    setpriv: bins.setpriv,
    args: [...staged.args, '-vf', "scale=w='max(2,trunc(iw/2)*2)':h='max(2,trunc(ih/2)*2)'", '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '12', '-pix_fmt', 'yuv420p', '-f', 'mp4', rel],
    cwd: workdir,
    timeoutMs: deps.media.config.timeoutS * 1000,
    signal,
    failCode: 'LIPSYNC_FAILED',
    what: 'making a clip of the frames for lipsync',
  });
  await rm(join(workdir, DIR, 'frames'), { recursive: true, force: true });
  return rel;
}
