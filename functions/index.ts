import type { VidaxFunction } from '../lib/http/function.ts';
import type { Context } from '../lib/context.ts';
import comfyuiHealth from './comfyui-health.get.ts';
import comfyuiStart from './comfyui-start.post.ts';
import health from './health.get.ts';
import jobsCreate from './jobs.post.ts';
import jobsList from './jobs.get.ts';
import jobsCancel from './jobs-id-cancel.post.ts';
import jobsEvents from './jobs-id-events.get.ts';
import jobsGet from './jobs-id.get.ts';
import jobsLogs from './jobs-id-logs.get.ts';
import jobsManifest from './jobs-id-manifest.get.ts';
import jobsStart from './jobs-id-start.post.ts';
import openapi from './openapi.get.ts';
import artifactGet from './jobs-id-artifact.get.ts';
import artifactHead from './jobs-id-artifact.head.ts';
import artifactsList from './jobs-id-artifacts.get.ts';
import finalGet from './jobs-id-final.get.ts';
import finalHead from './jobs-id-final.head.ts';

/** Every endpoint, mounted by the adapters in this order. */
export const functions: readonly VidaxFunction<Context>[] = [
  health,
  comfyuiHealth,
  comfyuiStart,
  jobsCreate,
  jobsList,
  jobsStart,
  jobsCancel,
  jobsGet,
  jobsManifest,
  jobsLogs,
  openapi,
  jobsEvents,
  artifactsList,
  artifactGet,
  artifactHead,
  finalGet,
  finalHead,
];
