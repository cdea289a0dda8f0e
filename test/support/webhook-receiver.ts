import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** A fresh Standard Webhooks secret (`whsec_` + base64 of 32 random bytes). */
export const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export interface Received {
  id: string;
  timestamp: string;
  type: string;
  body: { type: string; timestamp: string; data: Record<string, unknown> };
  /** What the receiver answered (0: it never answered). */
  answered: number;
}

/** How the receiver answers the n-th request (1-based) of a webhook id. */
export type Behaviour = (attempt: number, id: string) => 'ok' | 'fail' | 'hang' | 'huge-ok' | 'huge-fail' | 'redirect-private';

/**
 * A real webhook receiver on 127.0.0.1: verifies every delivery's signature with the
 * `standardwebhooks` package (a delivery that fails verification fails the test through
 * `unverified`), records it, and answers as `behaviour` says.
 */
export async function startReceiver(secret: string, behaviour: Behaviour = () => 'ok', port = 0) {
  const verifier = new Webhook(secret);
  const received: Received[] = [];
  const unverified: string[] = [];
  const attempts = new Map<string, number>();
  const sockets = new Set<Socket>();
  let hugeFinished = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => {
      inFlight -= 1;
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      try {
        verifier.verify(text, headers);
      } catch (err) {
        unverified.push(`${headers['webhook-id']}: ${(err as Error).message}`);
        res.writeHead(400).end();
        return;
      }
      const id = headers['webhook-id'];
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      const body = JSON.parse(text) as Received['body'];
      const entry: Received = { id, timestamp: headers['webhook-timestamp'], type: body.type, body, answered: 0 };
      received.push(entry);
      const how = behaviour(n, id);
      if (how === 'hang') return; // never answers
      if (how === 'redirect-private') {
        entry.answered = 307;
        res.writeHead(307, { location: 'http://10.0.0.1/hooks' }).end();
        return;
      }
      if (how === 'huge-ok' || how === 'huge-fail') {
        entry.answered = how === 'huge-ok' ? 200 : 500;
        res.writeHead(entry.answered, { 'content-type': 'text/plain', 'content-length': String(10 * 1024 * 1024) });
        const mb = Buffer.alloc(1024 * 1024, 120);
        let sent = 0;
        const more = () => {
          while (sent < 10) {
            sent += 1;
            if (!res.write(mb)) return void res.once('drain', more);
          }
          res.end();
        };
        res.on('error', () => {});
        res.on('finish', () => {
          hugeFinished += 1;
        });
        more();
        return;
      }
      entry.answered = how === 'ok' ? 204 : 503;
      res.writeHead(entry.answered).end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const actualPort = (server.address() as AddressInfo).port;
  return {
    port: actualPort,
    url: `http://127.0.0.1:${actualPort}/hooks`,
    received,
    unverified,
    /** 10 MB answers the sender read to the end (a bounded reader hangs up first). */
    hugeFinished: () => hugeFinished,
    /** The most requests the receiver held open at once. */
    maxInFlight: () => maxInFlight,
    /** Deliveries the receiver answered 2xx, by webhook id. */
    delivered(): Map<string, number> {
      const out = new Map<string, number>();
      for (const r of received) if (r.answered >= 200 && r.answered < 300) out.set(r.id, (out.get(r.id) ?? 0) + 1);
      return out;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
