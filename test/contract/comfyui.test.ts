// `npm run test:comfyui`: the contract scenarios against a real ComfyUI named by VIDAX_TEST_COMFYUI
// (a URL of a running one, or a start script VIDAX runs as `script PORT`, e.g. ../shared/comfyui/start.sh).
import { describe } from 'node:test';
import { contractSuite } from './scenarios.ts';
import { realTarget } from './targets.ts';

const spec = process.env.VIDAX_TEST_COMFYUI;
if (spec) contractSuite(() => realTarget(spec));
else describe('contract suite against a real ComfyUI', { skip: 'set VIDAX_TEST_COMFYUI=http://127.0.0.1:8188 (a running ComfyUI) or =path/to/start.sh (started on a free port) to run it' }, () => {});
