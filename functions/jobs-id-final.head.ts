import { defineFunction } from '../lib/http/function.ts';
import { type FinalContext, download } from './jobs-id-final.get.ts';

/** HEAD /jobs/:id/final.mp4: the finished video, as the artifact `final.mp4`; 404 until `encode` completed. */
export default defineFunction<FinalContext>({ ...download, method: 'HEAD', summary: 'Headers of the finished video (404 until encode completed)' });
