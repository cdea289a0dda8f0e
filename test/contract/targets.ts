// The ComfyUI a contract run drives: the simulator (default suite, in a chosen version mode) or a
// real ComfyUI given by VIDAX_TEST_COMFYUI (a URL: adopted; a start script: managed by VIDAX).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../support/comfyui.ts';
import { simulatorCommand } from '../support/simulator.ts';

export interface Target {
  label: string;
  kind: 'simulator' | 'real';
  /** VIDAX starts (and restarts) this ComfyUI itself. */
  managed: boolean;
  /** VIDAX's `comfyui` config section. */
  comfyui: Record<string, unknown>;
  /** ComfyUI's folders when the suite owns them (managed targets), else null. */
  outputDir: string | null;
  inputDir: string | null;
  /** Seconds one node of the slow workflow takes at the least (a blur of 128×128, radius 31). */
  blurSeconds: number;
  /** How long a run of a small workflow may take, start to end, on this target. */
  runMs: number;
  /** The simulator's --version-string (null for a real ComfyUI). */
  simVersion: string | null;
  /** Scratch folder of the target (ComfyUI's base dir when managed), removed at the end. */
  base: string;
}

const scratch = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

/** The simulator as VIDAX's managed ComfyUI, emulating `version`. */
export async function simulatorTarget(version = '0.3.64'): Promise<Target> {
  const base = scratch('vidax-contract-sim-');
  const port = await freePort();
  const dirs = { output: join(base, 'output'), input: join(base, 'input'), temp: join(base, 'tmp') };
  const args = ['--version-string', version, '--output-directory', dirs.output, '--input-directory', dirs.input, '--temp-directory', dirs.temp];
  return {
    label: `simulator ${version}`,
    kind: 'simulator',
    managed: true,
    comfyui: { url: `http://127.0.0.1:${port}`, command: simulatorCommand(port, args), startTimeoutMs: 30_000, restart: { backoffMs: 200, maxBackoffMs: 1000, maxRestarts: 3 } },
    outputDir: dirs.output,
    inputDir: dirs.input,
    blurSeconds: 0.3,
    runMs: 30_000,
    simVersion: version,
    base,
  };
}

/**
 * A real ComfyUI from `spec`: `http(s)://host:port` is a running one (adopted: VIDAX never starts
 * or stops it, and the suite cannot see its folders); anything else is a start script called as
 * `script PORT` (the shared `start.sh` contract), managed by VIDAX on a free port with its base
 * folder (COMFYUI_BASE_DIR) in a temp folder.
 */
export async function realTarget(spec: string): Promise<Target> {
  const base = scratch('vidax-contract-real-');
  const common = { kind: 'real' as const, blurSeconds: 0.3, runMs: 180_000, simVersion: null, base };
  if (/^https?:\/\//.test(spec)) {
    const url = spec.replace(/\/+$/, '');
    return { ...common, label: `ComfyUI at ${url} (adopted)`, managed: false, comfyui: { url, autoStart: false, requestTimeoutMs: 30_000 }, outputDir: null, inputDir: null };
  }
  const script = resolve(spec);
  if (!existsSync(script)) throw new Error(`VIDAX_TEST_COMFYUI: no such start script: ${script}`);
  const port = await freePort();
  const env: Record<string, string> = { COMFYUI_BASE_DIR: base, HOME: process.env.HOME ?? base, TMPDIR: base };
  return {
    ...common,
    label: `ComfyUI from ${spec} (managed)`,
    managed: true,
    comfyui: {
      url: `http://127.0.0.1:${port}`,
      command: [script, String(port)],
      env,
      startTimeoutMs: 180_000,
      requestTimeoutMs: 30_000,
      restart: { backoffMs: 500, maxBackoffMs: 2000, maxRestarts: 3 },
    },
    outputDir: join(base, 'output'),
    inputDir: join(base, 'input'),
  };
}
