// The contract scenarios (test/contract/) on the simulator emulating ComfyUI 0.3.64.
import { contractSuite } from './contract/scenarios.ts';
import { simulatorTarget } from './contract/targets.ts';

contractSuite(() => simulatorTarget('0.3.64'));
