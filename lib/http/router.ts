import { Router } from 'itty-router';
import { methodNotAllowed, notFound } from '../errors.ts';
import { errorResponse, type FunctionContext, pathnameOf, type VidaxFunction } from './function.ts';
import { createRequestLog, type RequestLogLimits } from './request-log.ts';
import { requestIdOf } from './request-id.ts';

/** What the router's steps keep on the request (itty-router's own way: it adds `params`, `query`). */
type RoutedRequest = Request & { requestId: string; startedAt: number };

export interface RouterContext extends FunctionContext {
  readonly config: FunctionContext['config'] & RequestLogLimits & { readonly requestLog: boolean };
}

const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const byMethod = (a: string, b: string) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b);

/** Functions grouped by path (first-seen order), each path's methods sorted; a duplicate route throws. */
function groupByPath<C extends FunctionContext>(functions: readonly VidaxFunction<C>[]): Map<string, VidaxFunction<C>[]> {
  const byPath = new Map<string, VidaxFunction<C>[]>();
  for (const fn of functions) {
    const same = byPath.get(fn.path) ?? [];
    if (same.some((f) => f.method === fn.method)) throw new Error(`two functions for ${fn.method} ${fn.path}`);
    byPath.set(fn.path, [...same, fn].sort((a, b) => byMethod(a.method, b.method)));
  }
  return byPath;
}

/** The route table, `METHOD /path`, sorted by path then method: what a route change diffs. */
export function routeTable(functions: readonly VidaxFunction<never>[]): string[] {
  return [...groupByPath(functions)]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([path, fns]) => fns.map((fn) => `${fn.method} ${path}`));
}

/**
 * One itty-router over the functions. Steps, in order:
 * - `before`: mint the request id (echoing a sane incoming one) and check `X-API-Key`, so
 *   every path, known or not, is 401 without the key;
 * - each function under its own method and path;
 * - per path, any other method: 405 with `Allow` listing every method of that path (computed
 *   once, here); a path the function's own matcher refuses (e.g. bad percent-encoding) is 404;
 * - anything else: 404 `not_found`;
 * - `catch`: whatever a step threw becomes the one JSON error shape;
 * - `finally`: the `X-Request-Id` header and, when `requestLog` is on, one log line per request.
 */
export function createRouter<C extends RouterContext>(ctx: C, functions: readonly VidaxFunction<C>[]) {
  const log = ctx.log;
  const logRequests = ctx.config.requestLog;
  const requestLog = createRequestLog(log, ctx.config);

  const begin = (request: RoutedRequest, c: C) => {
    request.requestId = requestIdOf(request);
    if (logRequests) request.startedAt = performance.now();
    c.auth(request);
  };
  const tagged = (response: Response, request: RoutedRequest) => {
    response.headers.set('x-request-id', request.requestId);
    return response;
  };
  const logged = (response: Response, request: RoutedRequest) => {
    requestLog({
      request_id: request.requestId,
      method: request.method,
      // The path that was routed (never the query string: it may hold a stray key); long ones cut.
      path: pathnameOf(request),
      status: response.status,
      ms: Math.round((performance.now() - request.startedAt) * 100) / 100,
    });
    return response;
  };

  const router = Router<RoutedRequest, [C]>({
    before: [begin],
    // A throw before `begin` minted an id (none can today) still gets one.
    catch: (err, request) => errorResponse(err, log, request.requestId ?? requestIdOf(request)),
    finally: logRequests ? [tagged, logged] : [tagged],
  });

  const byPath = groupByPath(functions);
  for (const fns of byPath.values()) {
    for (const fn of fns) {
      const method = fn.method.toLowerCase() as Lowercase<typeof fn.method>;
      router[method](fn.path, (request: RoutedRequest, c: C) => fn.serve(request, c, request.requestId));
    }
  }
  // After every method route, so a method route of a later path is never shadowed by a 405.
  for (const [path, fns] of byPath) {
    const allow = fns.map((fn) => fn.method);
    const own = fns[0] as VidaxFunction<C>;
    router.all(path, (request: RoutedRequest) => {
      throw own.match(pathnameOf(request)) ? methodNotAllowed(allow) : notFound();
    });
  }
  router.all('*', () => {
    throw notFound();
  });
  return router;
}
