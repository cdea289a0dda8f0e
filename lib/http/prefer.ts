/**
 * `Prefer: wait=<seconds>` (RFC 7240 §4.3) on the requests that start a run: how long the client
 * is willing to wait for the run to finish. Several `Prefer` headers arrive joined by commas.
 * Other preferences are ignored, as the RFC asks; a `wait` that is not delta-seconds is refused
 * (400 `invalid_prefer`: a client bug better seen than ignored); more than `max` is cut to `max`.
 */
import { vidaxError } from '../errors.ts';

export const MAX_WAIT_S = 60;

/** The wait the client asked for, in whole seconds (0..max), or null when it asked for none. */
export function preferredWait(request: Request, max = MAX_WAIT_S): number | null {
  const header = request.headers.get('prefer');
  if (header === null) return null;
  if (header.length > 4096) throw vidaxError('invalid_prefer', 'the Prefer header is too long');
  let wait: number | null = null;
  for (const pref of header.split(',')) {
    const [token = '', ...rest] = (pref.split(';')[0] ?? '').split('=');
    if (token.trim().toLowerCase() !== 'wait') continue;
    const raw = rest.join('=').trim().replace(/^"(.*)"$/, '$1');
    if (!/^\d+$/.test(raw)) throw vidaxError('invalid_prefer', 'Prefer: wait= must be a whole number of seconds (delta-seconds)', { details: { max: max } });
    // Leading zeros and 10^100 alike: only whether it passes `max` matters.
    const digits = raw.replace(/^0+(?=\d)/, '');
    wait = digits.length > 6 ? max : Math.min(Number(digits), max);
  }
  return wait;
}
