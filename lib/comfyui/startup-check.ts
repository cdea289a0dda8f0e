import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ComfyUIConfig } from '../config.ts';

/**
 * What the start-up line says about ComfyUI (where VIDAX expects it and how it gets there), and
 * the warnings about a managed command that cannot work, found before anyone waits
 * `startTimeoutMs` for it.
 */
export function describeComfyUI(c: ComfyUIConfig, cwd: string): { line: string; warnings: string[] } {
  const folder = c.cwd ?? cwd;
  const warnings: string[] = [];
  if (!c.autoStart) {
    return { line: `ComfyUI expected at ${c.url}: adopted (comfyui.autoStart is false: VIDAX never starts it)`, warnings };
  }
  const line = `ComfyUI expected at ${c.url}: adopted if it answers there, else managed: VIDAX runs ${JSON.stringify(c.command)} in ${folder} (log ${c.logFile})`;
  const script = c.command.find((arg) => basename(arg) === 'main.py');
  if (script && !existsSync(resolve(folder, script))) {
    warnings.push(`comfyui.command runs ${script}, but ${resolve(folder, script)} does not exist: set comfyui.cwd to your ComfyUI folder`);
  }
  const i = c.command.indexOf('--port');
  const eq = c.command.find((arg) => arg.startsWith('--port='));
  const commandPort = i >= 0 ? c.command[i + 1] : eq?.slice('--port='.length);
  const url = new URL(c.url);
  const urlPort = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (commandPort !== undefined && commandPort !== urlPort) {
    warnings.push(`comfyui.command starts ComfyUI on port ${commandPort}, but comfyui.url says port ${urlPort}: VIDAX would wait comfyui.startTimeoutMs (${c.startTimeoutMs} ms) for nothing; make them agree`);
  }
  return { line, warnings };
}
