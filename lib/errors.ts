/** The one error type of VIDAX: a stable code, an HTTP status, optional details. */
export class VidaxError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: string,
    status: number,
    message: string,
    options: { details?: unknown; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VidaxError';
    this.code = code;
    this.status = status;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

export const unauthorized = () =>
  new VidaxError('unauthorized', 401, 'missing or invalid X-API-Key header');
export const notFound = (code = 'not_found', message = 'no such route') =>
  new VidaxError(code, 404, message);
export const methodNotAllowed = (allow: readonly string[]) =>
  new VidaxError('method_not_allowed', 405, `method not allowed; use ${allow.join(', ')}`, {
    headers: { Allow: allow.join(', ') },
  });
export const payloadTooLarge = (limit: number) =>
  new VidaxError('payload_too_large', 413, `request body exceeds ${limit} bytes`, {
    details: { max_bytes: limit },
  });
export const invalidJson = (message: string) =>
  new VidaxError('invalid_json', 400, `request body is not valid JSON: ${message}`);

/** The JSON error body: `{ok:false,error:{code,message,details?}}`. */
export interface ErrorBody {
  ok: false;
  error: { code: string; message: string; details?: unknown };
}

/** Maps anything thrown to a status, headers and the public body. Unknown errors become internal_error. */
export function describeError(err: unknown): {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: ErrorBody;
  internal: boolean;
} {
  if (err instanceof VidaxError) {
    const error: ErrorBody['error'] = { code: err.code, message: err.message };
    if (err.details !== undefined) error.details = err.details;
    return { status: err.status, headers: err.headers, body: { ok: false, error }, internal: false };
  }
  return {
    status: 500,
    headers: {},
    body: { ok: false, error: { code: 'internal_error', message: 'internal error; see the server log' } },
    internal: true,
  };
}
