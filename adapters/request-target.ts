import type { IncomingMessage } from 'node:http';

/**
 * Every Request VIDAX builds has this origin: the route comes from the request line's path
 * alone, never from the `Host` header (which a client controls, and which made `new URL` throw
 * or moved the path: `Host: x/comfyui/start#`).
 */
export const ORIGIN_HOST = 'vidax.local';

// The common target: a plain path, nothing the URL parser rewrites; passed through untouched.
const PLAIN = /^\/[A-Za-z0-9_~/-]*$/;
// A segment the URL parser would resolve (`.`, `..`, and their percent-encoded forms).
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/**
 * The path (and query) VIDAX routes for a request target, such that `new URL(ORIGIN + it)`
 * never throws and its pathname is the request line's path, segment for segment:
 * - absolute-form (`http://h/p?q`): its path and query; `*` and authority-form: a path no
 *   route has (`/*`, `/host%3A1`), so they meet the key check and then a 404;
 * - dot segments (`..`, `%2e%2e`, `.`) stay literal segments (their `%` and `.` escaped), so
 *   they never climb to another route; `\` (a `/` to the URL parser) and `#` are escaped.
 * `%2f` needs nothing: the URL parser keeps it, and a route param decodes it to a `/` inside
 * one segment.
 */
export function routedTarget(target: string): string {
  if (PLAIN.test(target)) return target;
  let t = target;
  const absolute = ABSOLUTE_FORM.exec(t);
  if (absolute) {
    t = t.slice(absolute[0].length);
    if (!t.startsWith('/')) t = `/${t}`;
  } else if (!t.startsWith('/')) {
    return `/${encodeURIComponent(t)}`;
  }
  const q = t.indexOf('?');
  const path = q < 0 ? t : t.slice(0, q);
  const query = q < 0 ? '' : t.slice(q).replaceAll('#', '%23');
  const segments = path
    .replaceAll('\\', '%5C')
    .replaceAll('#', '%23')
    .split('/')
    .map((s) => (DOT_SEGMENT.test(s) ? s.replaceAll('%', '%25').replaceAll('.', '%252E') : s));
  return segments.join('/') + query;
}

/** Rewrites a Node request in place so that any fetch adapter builds its URL from the fixed origin. */
export function fixOrigin(req: IncomingMessage): void {
  req.url = routedTarget(req.url ?? '/');
  req.headers.host = ORIGIN_HOST;
}
