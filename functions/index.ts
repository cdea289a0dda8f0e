import type { VidaxFunction } from '../lib/function.ts';
import type { Context } from '../lib/context.ts';
import health from './health.get.ts';

/** Every endpoint, mounted by the adapters in this order. */
export const functions: readonly VidaxFunction<Context>[] = [health];
