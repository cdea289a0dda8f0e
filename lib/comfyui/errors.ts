import { type ComfyUIErrorCode, ERRORS, VidaxError } from '../errors.ts';

/** Stable codes of ComfyUI failures: the `COMFYUI_*` codes of the catalogue (lib/errors.ts). */
export type { ComfyUIErrorCode };

/** A ComfyUI failure: a catalogued `COMFYUI_*` code (its status when it reaches a response), details to show. */
export class ComfyUIError extends VidaxError {
  declare readonly code: ComfyUIErrorCode;

  constructor(code: ComfyUIErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(code, ERRORS[code].status, message, options);
    this.name = 'ComfyUIError';
  }
}

export const isComfyUIError = (err: unknown, code?: ComfyUIErrorCode): err is ComfyUIError =>
  err instanceof ComfyUIError && (code === undefined || err.code === code);

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Maps whatever a network call threw to a ComfyUIError. `timedOut` tells whether our own deadline
 * fired (an abort caused by it is a timeout, not an unreachable server).
 */
export function toComfyUIError(err: unknown, what: string, url: string, timedOut: boolean): ComfyUIError {
  if (err instanceof ComfyUIError) return err;
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  if (timedOut || TIMEOUT_CODES.has(code) || e?.name === 'TimeoutError') {
    return new ComfyUIError('COMFYUI_TIMEOUT', `ComfyUI did not answer ${what} in time (${url})`, { cause: err });
  }
  const reason = code || e?.message || String(err);
  return new ComfyUIError('COMFYUI_UNREACHABLE', `ComfyUI is unreachable at ${url} (${what}: ${reason})`, {
    details: { reason },
    cause: err,
  });
}
