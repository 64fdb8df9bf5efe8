// Unit: when the Kubernetes adapter asks the apiserver again, how long it waits, and the page size
// setting. The same rules against the real apiserver behind the fault proxy are in faults.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { askAgain, retryWait } from '../activities/kubernetes/transport';
import { workerConfig, WorkerConfigError } from '../worker/config';

describe('asking the apiserver again', () => {
  it('asks any request again after a 429, and only reads after a server error or a dropped connection', () => {
    for (const method of ['GET', 'PATCH', 'POST', 'PUT', 'DELETE']) assert.equal(askAgain(method, 429), true, `${method} 429`);
    for (const status of [500, 502, 503, 504, null]) {
      assert.equal(askAgain('GET', status), true, `GET ${status}`);
      for (const method of ['PATCH', 'POST', 'PUT', 'DELETE']) assert.equal(askAgain(method, status), false, `${method} ${status}: its fate is unknown`);
    }
    for (const status of [200, 201, 400, 401, 403, 404, 409, 410, 422]) assert.equal(askAgain('GET', status), false, `GET ${status} is an answer`);
  });

  it("waits as the server's Retry-After says, up to 5 s, else 200 ms doubling", () => {
    assert.equal(retryWait(1, '2'), 2000);
    assert.equal(retryWait(3, '0'), 0);
    assert.equal(retryWait(1, '600'), 5000, 'a long Retry-After is cut to the cap');
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => retryWait(a, null)),
      [200, 400, 800, 1600, 3200, 5000],
    );
    assert.equal(retryWait(2, 'Wed, 21 Oct 2015 07:28:00 GMT'), 400, 'an HTTP date is not a number of seconds: the backoff applies');
  });
});

describe('worker setting ROTOR_KUBE_PAGE_SIZE', () => {
  it('defaults to 200 and takes a whole number from 1 to 5000', () => {
    assert.equal(workerConfig({}).kubePageSize, 200);
    assert.equal(workerConfig({ ROTOR_KUBE_PAGE_SIZE: '50' }).kubePageSize, 50);
    for (const bad of ['0', '-1', '2.5', 'many', '5001'])
      assert.throws(
        () => workerConfig({ ROTOR_KUBE_PAGE_SIZE: bad }),
        (err: Error) => err instanceof WorkerConfigError && err.message.includes(`ROTOR_KUBE_PAGE_SIZE=${bad} is not a page size`),
        bad,
      );
  });
});
