// Seeded, randomized revocations over copies, on the real apiserver and on the memory cluster alike:
// a version copied to a random set of namespaces (its record kept on the copies, or not: an older
// rotor's), another rotation's version of the same name elsewhere, random holders of the copies
// (workloads and ServiceAccounts), this plan's copies deleted, then the revoke. The credential is
// revoked exactly when no copy of its own version, in any namespace, is referred to; another
// rotation's same-named version never keeps it, and never is it revoked while a copy is used.
// The seed is printed; ROTOR_SEED=<seed> replays it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import { createActivities } from '../activities';
import { MemoryCredentialIssuer } from '../activities/issuers/memory';
import type { Sandbox } from '../sandbox';
import { startWorldSandbox, type World } from './helpers/worlds';
import { SEED, onBothWorlds } from './helpers/seeded';

const BASE = 'auth-api-secrets';

let sandbox: Sandbox | undefined;
let kc: k8s.KubeConfig;

before(async () => {
  ({ sandbox, kc } = await startWorldSandbox());
});

after(async () => {
  await sandbox?.stop();
});

const SPACES = ['a', 'b', 'c', 'd'] as const;
type Space = (typeof SPACES)[number];

const scenario = fc.record({
  copies: fc.subarray([...SPACES], { minLength: 1 }),
  /** Of the copies, those the plan retires (deleted before the revoke). */
  retired: fc.subarray([...SPACES]),
  recorded: fc.boolean(),
  /** Another rotation's version of the same name, in a namespace without a copy of ours. */
  other: fc.option(fc.constantFrom(...SPACES), { nil: null }),
  holders: fc.array(fc.record({ in: fc.constantFrom(...SPACES), how: fc.constantFrom('Deployment' as const, 'ServiceAccount' as const) }), { maxLength: 3 }),
});

let seq = 0;

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

async function play(w: World, s: Scenario): Promise<void> {
  const n = ++seq;
  const ns = (x: Space) => `copies-${w.name}-${n}-${x}`;
  // A version name of this run's own: the cluster keeps every earlier run's copies, which by name are copies too.
  const X = `${BASE}-${20261206000000 + n}`;
  const copies = s.copies;
  const retired = s.retired.filter((x) => copies.includes(x));
  const other = s.other && !copies.includes(s.other) ? s.other : null;
  // Holders refer to the name in their own namespace; those in a retired namespace would have stopped the cleanup before the revoke.
  const holders = s.holders.filter((h) => !retired.includes(h.in));
  for (const x of SPACES) await w.namespace(ns(x));
  const id = `${X}.0123456789ab`;
  const identity = s.recorded ? { credentialId: id, copies: copies.map(ns).sort() } : undefined;
  for (const x of copies)
    await w.cluster.createVersion({
      namespace: ns(x),
      name: X,
      base: BASE,
      rotationId: 'rotate-mine/run',
      data: { api_token: 't' },
      ...(identity ? { identity } : {}),
    });
  if (other) {
    const theirs = { credentialId: `${X}.ffffffffffff`, copies: [ns(other)] };
    await w.cluster.createVersion({ namespace: ns(other), name: X, base: BASE, rotationId: 'rotate-theirs/run', data: { api_token: 'u' }, identity: theirs });
  }
  for (const [i, h] of holders.entries()) {
    if (h.how === 'Deployment') await w.workload('Deployment', ns(h.in), `holder-${i}`, X, { replicas: 0 });
    else await w.object({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `holder-${i}`, namespace: ns(h.in) }, imagePullSecrets: [{ name: X }] });
  }
  for (const x of retired) assert.equal((await w.cluster.deleteUnreferenced(ns(x), X)).deleted, true);
  const issuer = new MemoryCredentialIssuer({ mode: 'overlapping', maxLive: 10 });
  await issuer.issue({ id });
  const acts = createActivities({ cluster: w.cluster, stores: {}, metrics: {}, issuer });
  const outcome = await acts.revokeCredential({ id, why: 'cleanup', copiesOf: { secret: BASE, version: X, copies: identity ? identity.copies : null } });
  // Our copies still there and referred to; another rotation's same-named version does not count.
  const used = holders.filter((h) => copies.includes(h.in) && !retired.includes(h.in));
  const state = issuer.issued().find((c) => c.id === id)!.state;
  const story = JSON.stringify({ ...s, retired, other, holders, used });
  if (used.length) {
    assert.equal(state, 'active', `revoked while a copy is used: ${story}`);
    assert.match(outcome.kept ?? '', new RegExp(`^${X} is still used in `), story);
    for (const h of used) assert.ok(outcome.kept!.includes(ns(h.in)), `${ns(h.in)} named: ${outcome.kept}`);
  } else {
    assert.equal(state, 'revoked', `kept though no copy of its own is used (${outcome.kept}): ${story}`);
    assert.equal(outcome.kept, undefined);
  }
}

describe('revocations over copies, seeded and randomized', () => {
  it('revokes a credential exactly when no copy of its version anywhere is used, on memory and on the apiserver', async () => {
    console.log(`[copies-randomized] seed ${SEED} (ROTOR_SEED=${SEED} replays it)`);
    await onBothWorlds(kc, scenario, play, 6);
  });
});
