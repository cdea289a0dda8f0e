// A TCP proxy in front of a healthy ComfyUI that can "hang" it at any moment: every connection,
// old and new, stays open and is read but never answered (as a wedged ComfyUI does).
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export interface HangProxy {
  url: string;
  port: number;
  hang(): void;
  /** Answers again; connections held while hanging are cut so clients reconnect. */
  resume(): void;
  close(): Promise<void>;
}

export async function startHangProxy(targetPort: number): Promise<HangProxy> {
  let hanging = false;
  const pairs = new Set<{ client: Socket; upstream: Socket | null }>();
  const cut = (pair: { client: Socket; upstream: Socket | null }) => {
    if (pair.upstream) {
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      pair.upstream.destroy();
      pair.upstream = null;
    }
    pair.client.resume(); // read and drop whatever the client sends
  };
  const server = createServer((client) => {
    const pair: { client: Socket; upstream: Socket | null } = { client, upstream: null };
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    if (hanging) return cut(pair);
    const upstream = connect(targetPort, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      if (pair.upstream === upstream) client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hang() {
      hanging = true;
      for (const pair of pairs) cut(pair);
    },
    resume() {
      hanging = false;
      for (const pair of pairs) pair.client.destroy();
    },
    async close() {
      for (const pair of pairs) pair.client.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
