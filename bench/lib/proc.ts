import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { spawnProcess } from '../../scripts/lib/spawn.ts';
import { httpRequest } from './http.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
/** Every benchmark uses this key; servers compare it in constant time. */
export const API_KEY = 'bench-key-0123456789abcdef';

export interface ServerSpec {
  name: string;
  /** Arguments after `node` (a script and its flags). */
  argv: string[];
  env?: Record<string, string>;
  /** File receiving the server's stdout (its request log); the same kind of sink for every server. */
  logFile: string;
  /** Path probed for readiness (with the key), default `/health`. */
  readyPath?: string;
  cwd?: string;
}

export interface RunningServer {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Milliseconds from spawn to the first 2xx answer on the ready path. */
  readonly readyMs: number;
  /** Resident set size in bytes (VmRSS from /proc). */
  rss(): number;
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `url` until it answers 2xx; returns false on timeout or if the child exits. */
async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    try {
      const reply = await httpRequest(url, { headers: { 'x-api-key': API_KEY }, timeoutMs: 1000 });
      if (reply.status >= 200 && reply.status < 300) return true;
    } catch {
      // not listening yet
    }
    await sleep(2);
  }
  return false;
}

/** Spawns `node <argv>` on a free loopback port (env PORT and VIDAX_PORT) and waits until it serves. */
export async function startServer(spec: ServerSpec, timeoutMs = 20_000): Promise<RunningServer> {
  const port = await freePort();
  const errFile = `${spec.logFile}.stderr`;
  const started = performance.now();
  const proc = spawnProcess(process.execPath, spec.argv, {
    cwd: spec.cwd ?? ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      VIDAX_PORT: String(port),
      VIDAX_API_KEY: API_KEY,
      BENCH_API_KEY: API_KEY,
      ...spec.env,
    },
    stdoutFile: spec.logFile,
    stderrFile: errFile,
  });
  const child = proc.child;
  const url = `http://127.0.0.1:${port}`;
  const ok = await waitReady(`${url}${spec.readyPath ?? '/health'}`, child, timeoutMs);
  const readyMs = performance.now() - started;
  const stop = async () => {
    await proc.stop(5000);
  };
  if (!ok) {
    await stop();
    const stderr = readFileSync(errFile, 'utf8').slice(-2000);
    throw new Error(`${spec.name} did not become ready within ${timeoutMs} ms:\n${stderr}`);
  }
  const pid = child.pid ?? 0;
  return { name: spec.name, url, pid, child, readyMs, rss: () => rssOf(pid), stop };
}
