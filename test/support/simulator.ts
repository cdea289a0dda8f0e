// Spawning the ComfyUI simulator (simulator/main.ts) as a real child process.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'undici';
import { type Spawned, spawnProcess } from '../../scripts/lib/spawn.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SIMULATOR_MAIN = join(ROOT, 'simulator', 'main.ts');
/** Recorded ComfyUI fixtures kept in the repo: `workflows/` and `transcripts/`. */
export const COMFYUI_FIXTURES = join(ROOT, 'test', 'fixtures', 'comfyui');

/** The full argv a process manager can spawn (no shell): node --import <tsx> main.ts --listen 127.0.0.1 --port N … */
export function simulatorCommand(port: number, extra: string[] = []): string[] {
  return [process.execPath, '--import', import.meta.resolve('tsx'), SIMULATOR_MAIN, '--listen', '127.0.0.1', '--port', String(port), '--disable-auto-launch', ...extra];
}

export type SpawnedSimulator = Spawned;

/** Starts `simulatorCommand(port, args)` with the parent's env minus SIM_* plus `env`. */
export function spawnSimulator(port: number, args: string[] = [], env: Record<string, string> = {}): SpawnedSimulator {
  const [cmd, ...argv] = simulatorCommand(port, args);
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SIM_')));
  return spawnProcess(cmd ?? process.execPath, argv, { cwd: ROOT, env: { ...base, ...env } });
}

export interface RunningSimulator {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  outputDir: string;
  inputDir: string;
  tempDir: string;
  output(): string;
  stop(): Promise<void>;
}

/** Spawns on --port 0 with fresh dirs (unless args name them), waits for the GUI line (15 s). */
export async function startSimulator(opts: { args?: string[]; env?: Record<string, string> } = {}): Promise<RunningSimulator> {
  const args = [...(opts.args ?? [])];
  const base = mkdtempSync(join(tmpdir(), 'vidax-sim-'));
  const dir = (flag: string, name: string) => {
    const i = args.indexOf(flag);
    if (i >= 0 && args[i + 1]) return args[i + 1]!;
    args.push(flag, join(base, name));
    return join(base, name);
  };
  const outputDir = dir('--output-directory', 'output');
  const inputDir = dir('--input-directory', 'input');
  const tempDir = join(dir('--temp-directory', 'tmp'), 'temp');
  const sim = spawnSimulator(0, args, opts.env ?? {});
  const stop = async () => {
    await sim.stop(5000);
    rmSync(base, { recursive: true, force: true });
  };
  try {
    const m = await sim.waitFor(/To see the GUI go to: (http:\/\/127\.0\.0\.1:(\d+))/);
    return { url: m[1]!, port: Number(m[2]), pid: sim.child.pid!, child: sim.child, outputDir, inputDir, tempDir, output: sim.output, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface WsMessage {
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: test-side view of arbitrary server JSON
  data: any;
}

export interface WsCollector {
  ws: WebSocket;
  messages: WsMessage[];
  /** Resolves once `n` messages arrived (rejects after `ms`). */
  waitCount(n: number, ms?: number): Promise<WsMessage[]>;
  /** Resolves with the first message (already received or later) that matches. */
  waitFor(pred: (m: WsMessage) => boolean, ms?: number): Promise<WsMessage>;
  close(): Promise<void>;
}

/** Opens undici's WebSocket on `${httpUrl}${path}` and records every text message. */
export async function openWs(httpUrl: string, path = '/ws'): Promise<WsCollector> {
  const ws = new WebSocket(httpUrl.replace(/^http/, 'ws') + path);
  const messages: WsMessage[] = [];
  ws.addEventListener('message', (e) => {
    if (typeof e.data === 'string') messages.push(JSON.parse(e.data) as WsMessage);
  });
  const closed = new Promise<void>((r) => ws.addEventListener('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('ws open timeout')), 5000);
    ws.addEventListener('open', () => { clearTimeout(t); resolve(); });
    ws.addEventListener('error', () => { clearTimeout(t); reject(new Error(`ws error on ${path}`)); });
  });
  const poll = async <T>(get: () => T | undefined, ms: number, what: string): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = get();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`ws: timed out waiting for ${what}; got ${JSON.stringify(messages.map((m) => m.type))}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return {
    ws,
    messages,
    waitCount: (n, ms = 10_000) => poll(() => (messages.length >= n ? messages : undefined), ms, `${n} messages`),
    waitFor: (pred, ms = 10_000) => poll(() => messages.find(pred), ms, 'a matching message'),
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    },
  };
}
