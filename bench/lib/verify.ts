import { httpRequest } from './http.ts';
import type { RunningServer } from './proc.ts';
import { API_KEY } from './proc.ts';

/** Shape of a JSON body: its keys, recursively (values such as uptime may differ). */
const shape = (value: unknown): unknown =>
  value && typeof value === 'object' && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]))
    : typeof value;

/**
 * Checks that every server answers `path` the same way before it is measured: 200 with the same
 * content type and body shape with the key, 401 without it. Throws on any difference.
 */
export async function sameAnswers(servers: RunningServer[], path: string): Promise<void> {
  let reference: string | undefined;
  for (const s of servers) {
    const ok = await httpRequest(`${s.url}${path}`, { headers: { 'x-api-key': API_KEY } });
    const denied = await httpRequest(`${s.url}${path}`);
    if (ok.status !== 200) throw new Error(`${s.name} ${path}: ${ok.status} ${ok.body.slice(0, 300)}`);
    if (denied.status !== 401) throw new Error(`${s.name} ${path} without key: ${denied.status}`);
    if (typeof ok.headers['x-request-id'] !== 'string') throw new Error(`${s.name} ${path}: no x-request-id`);
    const fingerprint = JSON.stringify([ok.headers['content-type'], shape(JSON.parse(ok.body))]);
    reference ??= fingerprint;
    if (fingerprint !== reference) throw new Error(`${s.name} ${path} answers differently:\n${fingerprint}\n${reference}`);
  }
}
