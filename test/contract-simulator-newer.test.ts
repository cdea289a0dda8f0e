// The contract scenarios (test/contract/) on the simulator emulating a newer ComfyUI (0.33.0).
import { contractSuite } from './contract/scenarios.ts';
import { simulatorTarget } from './contract/targets.ts';

contractSuite(() => simulatorTarget('0.33.0'));
