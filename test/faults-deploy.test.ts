// Fault injection (npm run test:faults; test/helpers/faults.ts): a worker SIGKILLed inside each step that
// deploys (the switch, the rollout wait, the canary's completion), with another worker polling.
import { describe, it } from 'node:test';
import { faultSuite } from './helpers/faults';

const suite = faultSuite(['committed']);

describe('faults: workers killed while deploying', () => {
  it('a worker SIGKILLed inside the switch, the rollout wait and the canary completion: taken over by the other worker within seconds, the world as undisturbed', () =>
    suite.killEach('kill-d', ['switchWorkloads', 'waitForRollout', 'completeCanary']));
});
