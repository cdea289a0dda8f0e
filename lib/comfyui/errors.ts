import { type ComfyUIErrorCode, ERRORS, VidaxError } from '../errors.ts';

/** Stable codes of ComfyUI failures: the `COMFYUI_*` codes of the catalogue (lib/errors.ts). */
export type ComfyErrorCode = ComfyUIErrorCode;

/** A ComfyUI failure: a catalogued `COMFYUI_*` code (its status when it reaches a response), details to show. */
export class ComfyError extends VidaxError {
  declare readonly code: ComfyErrorCode;

  constructor(code: ComfyErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(code, ERRORS[code].status, message, options);
    this.name = 'ComfyError';
  }
}

export const isComfyError = (err: unknown, code?: ComfyErrorCode): err is ComfyError =>
  err instanceof ComfyError && (code === undefined || err.code === code);

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Maps whatever a network call threw to a ComfyError. `timedOut` tells whether our own deadline
 * fired (an abort caused by it is a timeout, not an unreachable server).
 */
export function toComfyError(err: unknown, what: string, url: string, timedOut: boolean): ComfyError {
  if (err instanceof ComfyError) return err;
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  if (timedOut || TIMEOUT_CODES.has(code) || e?.name === 'TimeoutError') {
    return new ComfyError('COMFYUI_TIMEOUT', `ComfyUI did not answer ${what} in time (${url})`, { cause: err });
  }
  const reason = code || e?.message || String(err);
  return new ComfyError('COMFYUI_UNREACHABLE', `ComfyUI is unreachable at ${url} (${what}: ${reason})`, {
    details: { reason },
    cause: err,
  });
}
