import { createServerAdapter } from '@whatwg-node/server';
import { Router } from 'itty-router';
import type { Context } from '../lib/context.ts';
import { notFound } from '../lib/errors.ts';
import { errorResponse, pathnameOf, type VidaxFunction } from '../lib/http/function.ts';
import { requestIdOf } from '../lib/http/request-id.ts';

/**
 * Mounts an explicit list of functions on one itty-router and wraps it as a fetch handler.
 * Every path of a function reaches it whatever the method, so the function answers 405 itself;
 * anything else is an authenticated 404.
 */
export function createApp(ctx: Context, functions: readonly VidaxFunction<Context>[]) {
  const router = Router<Request, [Context]>({
    catch: (err, request) => errorResponse(err, ctx.log, requestIdOf(request)),
  });
  for (const fn of functions) router.all(fn.path, (request, c) => fn.fetch(request, c));
  router.all('*', (request) => {
    const requestId = requestIdOf(request);
    try {
      ctx.auth(request);
      throw notFound();
    } catch (err) {
      return errorResponse(err, ctx.log, requestId);
    }
  });

  const logRequests = ctx.config.requestLog;
  const log = ctx.log;
  // Not async: one promise less per request; without logging the router's promise is the answer.
  return createServerAdapter<Record<string, never>>((request) => {
    if (!logRequests) return router.fetch(request, ctx);
    const started = performance.now();
    const pending: Promise<Response> = router.fetch(request, ctx);
    return pending.then((response) => {
      log.info('request', {
        request_id: response.headers.get('x-request-id'),
        method: request.method,
        path: pathnameOf(request), // never the query string: it may hold a stray key
        status: response.status,
        ms: Math.round((performance.now() - started) * 100) / 100,
      });
      return response;
    });
  });
}
