// Fault injection (npm run test:faults; test/helpers/faults.ts): a worker SIGKILLed inside the commit and
// each step of the cleanup (the scan, the guarded delete), with another worker polling.
import { describe, it } from 'node:test';
import { faultSuite } from './helpers/faults';

const suite = faultSuite(['committed']);

describe('faults: workers killed while committing and cleaning up', () => {
  it('a worker SIGKILLed inside the commit, the scan and the delete: taken over by the other worker within seconds, the world as undisturbed', () =>
    suite.killEach('kill-c', ['finalizeVersion', 'scanReferences', 'deleteVersion']));
});
