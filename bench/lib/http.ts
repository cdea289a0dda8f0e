import { Agent, request } from 'node:http';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over node:http (light enough to probe a server that is still starting). */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; agent?: Agent; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: opts.agent ?? false, timeout: opts.timeoutMs ?? 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * Latency of `count` sequential requests on one keep-alive connection, in microseconds
 * (autocannon's histogram has 1 ms resolution, too coarse to compare sub-millisecond answers).
 */
export async function sequentialLatency(
  url: string | ((i: number) => string),
  headers: Record<string, string>,
  count: number,
): Promise<number[]> {
  const urlOf = typeof url === 'string' ? () => url : url;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      const target = urlOf(i);
      const reply = await httpRequest(target, { headers, agent });
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (reply.status !== 200) throw new Error(`${target} answered ${reply.status}: ${reply.body.slice(0, 200)}`);
    }
  } finally {
    agent.destroy();
  }
  return samples;
}
