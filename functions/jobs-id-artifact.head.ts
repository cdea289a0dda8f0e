import { defineFunction } from '../lib/http/function.ts';
import { type ArtifactContext, download } from './jobs-id-artifact.get.ts';

/**
 * HEAD /jobs/:id/artifacts/<path>: one file the manifest lists (e.g. `outputs/a_00001_.png`,
 * `final.mp4`, `inputs/face`), with ETag, Range (206/416) and If-None-Match (304).
 */
export default defineFunction<ArtifactContext>({ ...download, method: 'HEAD', summary: 'Headers of one file of the run the manifest lists' });
