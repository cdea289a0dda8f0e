// Wires the simulator: HTTP server, /ws upgrades, the prompt queue and its single worker.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Logger, SimOptions } from './args.ts';
import { Executor } from './executor.ts';
import { Hub } from './hub.ts';
import { PromptQueue } from './queue.ts';
import { features } from './info.ts';
import { handle, queueInfo, type Sim } from './routes.ts';
import { acceptWebSocket, type WsConnection } from './ws.ts';

export interface RunningSim {
  server: Server;
  close(): void;
}

export function createSim(opts: SimOptions, log: Logger): RunningSim {
  const hub = new Hub();
  const queue = new PromptQueue(() => hub.send('status', { status: queueInfo(sim) }, null));
  const executor = new Executor(hub, opts);
  const sim: Sim = { opts, log, queue, executor, counter: 0, freeAfterRun: false };
  let closing = false;

  const server = createServer((req, res) => {
    if (opts.hangHttp) return; // --hang-http: accept, read, never answer
    void handle(sim, req, res);
  });
  if (opts.hangHttp) server.requestTimeout = 0;

  server.on('upgrade', (req, socket, head) => {
    if (opts.hangHttp) return;
    const url = new URL(req.url ?? '/', 'http://sim');
    if (url.pathname !== '/ws' && url.pathname !== '/api/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    let sid = url.searchParams.get('clientId') ?? '';
    if (sid) hub.sockets.delete(sid);
    else sid = randomUUID().replaceAll('-', '');
    let first = true;
    let ws: WsConnection | null = null;
    ws = acceptWebSocket(req, socket, head, {
      onMessage: (text) => {
        try {
          const msg = JSON.parse(text) as { type?: unknown };
          if (first && msg?.type === 'feature_flags' && !opts.silentWs) ws?.send(JSON.stringify({ type: 'feature_flags', data: features(opts) }));
        } catch {
          // ComfyUI ignores what it cannot parse
        }
        first = false;
      },
      // Like ComfyUI (issue #16010): closing an old socket also unregisters a newer one with the same clientId.
      onClose: () => hub.sockets.delete(sid),
    });
    if (!ws || opts.silentWs) return; // --silent-ws: the socket stays open but never hears anything
    hub.sockets.set(sid, ws);
    ws.send(JSON.stringify({ type: 'status', data: { status: queueInfo(sim), sid } }));
    if (executor.clientId === sid && executor.lastNodeId !== null) ws.send(JSON.stringify({ type: 'executing', data: { node: executor.lastNodeId } }));
  });

  let crashArmed = false;
  const worker = async () => {
    while (!closing) {
      const [item, id] = await queue.get();
      if (opts.crashAfterMs !== null && !crashArmed) {
        crashArmed = true; // only the first prompt of this process
        setTimeout(() => {
          log.error(`Simulated crash: exiting 1, ${opts.crashAfterMs} ms after the first prompt started (--crash-after-ms)`);
          process.exit(1);
        }, opts.crashAfterMs);
      }
      const t0 = performance.now();
      const r = await executor.execute(item).catch((e: Error) => {
        log.error(`!!! Exception during processing !!! ${e.stack ?? e}`); // a simulator bug: fail the prompt, keep serving
        return { outputs: {}, meta: {}, status: { status_str: 'error' as const, completed: false, messages: [] } };
      });
      queue.taskDone(id, { outputs: r.outputs, meta: r.meta }, r.status);
      if (executor.clientId !== null) hub.send('executing', { node: null, prompt_id: item[1] }, executor.clientId);
      log.info(`Prompt executed in ${((performance.now() - t0) / 1000).toFixed(2)} seconds`);
      if (sim.freeAfterRun) {
        sim.freeAfterRun = false;
        executor.clearCache();
      }
    }
  };
  void worker();

  return {
    server,
    close() {
      closing = true;
      hub.closeAll();
      server.close();
      server.closeAllConnections();
    },
  };
}
