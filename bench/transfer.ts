// Transfer bench: a 1 GiB input uploaded with a job (multipart POST /jobs) and downloaded back
// as an artifact, against a bare node:http peer streaming the same bytes (fs write + fsync /
// fs.createReadStream), interleaved; a Range read of the last MiB against a whole 1 MiB file;
// VIDAX's peak RSS over idle while it moves the bytes.
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import type { Bench, BenchOptions } from './lib/bench.ts';
import { API_KEY, type RunningServer } from './lib/proc.ts';
import type { BenchResult, Row } from './lib/results.ts';
import { startPeer, startVidax, workspace } from './lib/servers.ts';

const MiB = 1024 * 1024;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

function makeFile(path: string, bytes: number): void {
  const block = randomBytes(MiB);
  const fd = openSync(path, 'w');
  for (let done = 0; done < bytes; done += MiB) {
    block.writeUInt32LE(done / MiB, 0); // no two MiB alike
    writeSync(fd, block, 0, Math.min(MiB, bytes - done));
  }
  closeSync(fd);
}

/** Samples a process's RSS every 20 ms until stopped; returns the peak. */
function sampler(server: RunningServer): { stop: () => number } {
  let peak = server.rss();
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, server.rss());
    } catch {
      // exited
    }
  }, 20);
  return {
    stop: () => {
      clearInterval(t);
      return peak;
    },
  };
}

const BOUNDARY = 'vidaxBenchBoundary0123456789';
async function uploadVidax(url: string, big: string, size: number, small: string): Promise<{ ms: number; id: string }> {
  const job = JSON.stringify({ workflow: { '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } }, '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'b' } } } });
  const head = (name: string, file?: string) =>
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"` : ''}\r\n${file ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`);
  const parts: (Buffer | string)[] = [head('job'), Buffer.from(`${job}\r\n`), head('small', 'small.bin'), small, Buffer.from('\r\n'), head('big', 'big.bin'), big, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)];
  const length = parts.reduce((n, p) => n + (typeof p === 'string' ? (p === big ? size : MiB) : p.length), 0);
  async function* body() {
    for (const p of parts) {
      if (typeof p === 'string') yield* createReadStream(p, { highWaterMark: 256 * 1024 });
      else yield p;
    }
  }
  const t0 = performance.now();
  const res = await request(`${url}/jobs`, {
    method: 'POST',
    headers: { 'x-api-key': API_KEY, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(length) },
    body: Readable.from(body()),
  });
  const answer = (await res.body.json()) as { run_id: string };
  if (res.statusCode !== 202) throw new Error(`upload: ${res.statusCode} ${JSON.stringify(answer)}`);
  return { ms: performance.now() - t0, id: answer.run_id };
}

async function uploadBare(url: string, big: string, size: number): Promise<number> {
  const t0 = performance.now();
  const res = await request(`${url}/upload`, {
    method: 'POST',
    headers: { 'x-api-key': API_KEY, 'content-length': String(size) },
    body: createReadStream(big, { highWaterMark: 256 * 1024 }),
  });
  await res.body.dump();
  if (res.statusCode !== 201) throw new Error(`bare upload: ${res.statusCode}`);
  return performance.now() - t0;
}

async function download(url: string, headers: Record<string, string> = {}): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await request(url, { headers: { 'x-api-key': API_KEY, ...headers } });
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Buffer).length;
  if (res.statusCode !== 200 && res.statusCode !== 206) throw new Error(`GET ${url}: ${res.statusCode}`);
  return { ms: performance.now() - t0, bytes };
}


export const transfer: Bench = {
  key: 'transfer',
  describe: '1 GiB upload with a job and download of it, vs bare node:http streaming; Range of the last MiB; RSS over idle',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const size = opts.quick ? 64 * MiB : 1024 * MiB;
    const rounds = Math.min(opts.rounds, 3);
    const ws = workspace('transfer');
    const big = join(ws.dir, 'big.bin');
    const small = join(ws.dir, 'small.bin');
    makeFile(big, size);
    makeFile(small, MiB);
    const runsDir = join(ws.dir, 'runs');
    const vidax = await startVidax({ runsDir, logFile: join(ws.dir, 'vidax.log') });
    let bare: RunningServer | null = null;
    try {
      await new Promise((r) => setTimeout(r, 500));
      const idle = vidax.rss();
      const up: Record<'VIDAX' | 'node:http', number[]> = { VIDAX: [], 'node:http': [] };
      const down: Record<'VIDAX' | 'node:http', number[]> = { VIDAX: [], 'node:http': [] };
      let peakUp = idle;
      let peakDown = idle;
      let id = '';
      for (let r = 0; r < rounds; r++) {
        const s = sampler(vidax);
        const u = await uploadVidax(vidax.url, big, size, small);
        peakUp = Math.max(peakUp, s.stop());
        up.VIDAX.push(u.ms);
        id ||= u.id;
        if (!bare) {
          bare = await startPeer('bare-files', {
            logFile: join(ws.dir, 'bare.log'),
            env: { BENCH_FILE: join(runsDir, id, 'inputs', 'big'), BENCH_SMALL_FILE: join(runsDir, id, 'inputs', 'small'), BENCH_UPLOAD_DIR: ws.dir },
          });
        }
        up['node:http'].push(await uploadBare(bare.url, big, size));
        opts.log(`   upload round ${r + 1}: VIDAX ${Math.round(up.VIDAX[r] ?? 0)} ms, node:http ${Math.round(up['node:http'][r] ?? 0)} ms`);
      }
      const artifact = `${vidax.url}/jobs/${id}/artifacts/inputs/big`;
      const bareUrl = (bare as RunningServer).url;
      for (let r = 0; r < rounds; r++) {
        const s = sampler(vidax);
        const d = await download(artifact);
        peakDown = Math.max(peakDown, s.stop());
        if (d.bytes !== size) throw new Error(`downloaded ${d.bytes} of ${size} bytes`);
        down.VIDAX.push(d.ms);
        down['node:http'].push((await download(`${bareUrl}/file`)).ms);
        opts.log(`   download round ${r + 1}: VIDAX ${Math.round(down.VIDAX[r] ?? 0)} ms, node:http ${Math.round(down['node:http'][r] ?? 0)} ms`);
      }
      const n = opts.quick ? 5 : 30;
      // Interleaved, so a busy moment of the shared machine hits all three alike.
      const urls: [string, Record<string, string>][] = [
        [artifact, { range: 'bytes=-1048576' }],
        [`${vidax.url}/jobs/${id}/artifacts/inputs/small`, {}],
        [`${bareUrl}/file`, { range: 'bytes=-1048576' }],
      ];
      const totals = [0, 0, 0];
      for (const [u, h] of urls) await download(u, h); // warm
      for (let i = 0; i < n; i++) {
        for (const [k, [u, h]] of urls.entries()) totals[k] = (totals[k] ?? 0) + (await download(u, h)).ms;
      }
      const [rangeMs = 0, smallMs = 1, bareRangeMs = 0] = totals.map((t) => t / n);
      const best = (xs: number[]) => Math.min(...xs);
      const mbps = (ms: number) => size / MiB / (ms / 1000);
      const upRatio = best(up['node:http']) / best(up.VIDAX);
      const downRatio = best(down['node:http']) / best(down.VIDAX);
      const rangeRatio = rangeMs / smallMs;
      const peak = Math.max(peakUp, peakDown);
      const rssDelta = (peak - idle) / MiB;
      const rows: Row[] = [
        { target: 'upload VIDAX (multipart POST /jobs)', 'MiB/s': round(mbps(best(up.VIDAX)), 0), ms: Math.round(best(up.VIDAX)), ratio: round(upRatio) },
        { target: 'upload node:http (stream to file + fsync)', 'MiB/s': round(mbps(best(up['node:http'])), 0), ms: Math.round(best(up['node:http'])), ratio: 1 },
        { target: 'download VIDAX (GET artifact)', 'MiB/s': round(mbps(best(down.VIDAX)), 0), ms: Math.round(best(down.VIDAX)), ratio: round(downRatio) },
        { target: 'download node:http (createReadStream)', 'MiB/s': round(mbps(best(down['node:http'])), 0), ms: Math.round(best(down['node:http'])), ratio: 1 },
        { target: 'VIDAX Range bytes=-1MiB of the big file', 'MiB/s': '', ms: round(rangeMs), ratio: round(rangeRatio) },
        { target: 'VIDAX GET of a 1 MiB file', 'MiB/s': '', ms: round(smallMs), ratio: 1 },
        { target: 'node:http Range bytes=-1MiB', 'MiB/s': '', ms: round(bareRangeMs), ratio: round(bareRangeMs / smallMs) },
      ];
      return {
        title: `Transfer of a ${size / MiB} MiB file (best of ${rounds} interleaved rounds; Range: mean of ${n})`,
        settings: {
          size_mib: size / MiB,
          rounds,
          idle_rss_mib: round(idle / MiB, 1),
          peak_rss_upload_mib: round(peakUp / MiB, 1),
          peak_rss_download_mib: round(peakDown / MiB, 1),
        },
        rows,
        checks: [
          { name: 'download throughput vs bare node:http', value: round(downRatio), unit: '×', target: '≥ 0.8×', pass: downRatio >= 0.8 },
          { name: 'upload throughput vs bare streaming write', value: round(upRatio), unit: '×', target: '≥ 0.8×', pass: upRatio >= 0.8 },
          { name: 'Range of the last MiB vs a 1 MiB file', value: round(rangeRatio), unit: '× time', target: '≤ 1.25×', pass: rangeRatio <= 1.25 },
          { name: 'VIDAX RSS over idle while transferring', value: round(rssDelta, 1), unit: 'MiB', target: '≤ +50 MB', pass: rssDelta <= 50 },
        ],
      };
    } finally {
      await vidax.stop();
      await bare?.stop();
      ws.cleanup();
    }
  },
};
