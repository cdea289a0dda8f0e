import { createServerAdapter, Response } from '@whatwg-node/server';
import type { Context } from '../lib/context.ts';
import type { VidaxFunction } from '../lib/http/function.ts';
import { useResponseClass } from '../lib/http/respond.ts';
import { createRouter } from '../lib/http/router.ts';

/**
 * The HTTP layer: the functions' router (lib/http/router.ts: auth, routes per method, 405/404,
 * errors, request id, request log) inside @whatwg-node/server, whose Response the functions
 * build so its Node listener writes them out directly.
 */
export function createApp(ctx: Context, functions: readonly VidaxFunction<Context>[]) {
  useResponseClass(Response);
  const router = createRouter(ctx, functions);
  // Not async: one promise less per request; the router's promise is the answer.
  return createServerAdapter<Record<string, never>>((request) => router.fetch(request, ctx));
}
