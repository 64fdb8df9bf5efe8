// Seeded, randomized retried reverts, on the real apiserver and on the memory cluster alike: random
// workloads of every switchable kind switched (rolling, or a canary at a random weight for the
// Deployments), then a revert killed after a random number of objects (an attempt that did part of the
// work and reported nothing), then the retry. The retry's report names every object any attempt
// reverted, with the fields and green copies they had; the cluster is back on the previous version;
// once the rollback releases them no record of the rotation is left on any object. A mutation that
// removes the record instead of marking it is caught (the last case).
// The seed is printed; ROTOR_SEED=<seed> replays it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import { revertTargets } from '../activities/kubernetes/ownership';
import type { RevertInput, SwitchRecord, WorkloadUse } from '../contract/activities';
import type { Sandbox } from '../sandbox';
import { ENV, ENV_FROM, KubeWorld, MemoryWorld, VOLUME, startWorldSandbox, type Kind, type World } from './helpers/worlds';
import { SEED, onBothWorlds } from './helpers/seeded';

const BASE = 'auth-api-secrets';
const OLD = `${BASE}-20250101000000`;
const NEW = `${BASE}-20251130100000`;
const KINDS: Kind[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'];
const FIELDS = [ENV, ENV_FROM, VOLUME];

let sandbox: Sandbox | undefined;
let kc: k8s.KubeConfig;
let seq = 0;

before(async () => {
  ({ sandbox, kc } = await startWorldSandbox());
});

after(async () => {
  await sandbox?.stop();
});

const scenario = fc.record({
  workloads: fc.array(fc.record({ kind: fc.constantFrom(...KINDS), fields: fc.subarray(FIELDS, { minLength: 1 }) }), { minLength: 1, maxLength: 5 }),
  canary: fc.option(fc.constantFrom(25, 50), { nil: null }),
  /** How many objects the killed attempt reverted before it died. */
  killedAfter: fc.nat(5),
  /** Someone sets one switched field elsewhere before the rollback: the revert keeps it. */
  override: fc.option(fc.nat(4), { nil: null }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

const isRecord = (key: string) => key.startsWith('rotor.dev/switch-');

async function play(w: World, s: Scenario, mark = true): Promise<void> {
  const ns = `revert-retry-${++seq}`;
  await w.namespace(ns);
  await w.secret(ns, OLD);
  await w.secret(ns, NEW);
  const names: { kind: Kind; name: string }[] = [];
  for (const [i, spec] of s.workloads.entries()) {
    const name = `w${i}`;
    await w.workload(spec.kind, ns, name, OLD, { fields: spec.fields, ...(spec.kind === 'Deployment' ? { replicas: 4 } : {}) });
    names.push({ kind: spec.kind, name });
  }
  const uses: WorkloadUse[] = (await w.cluster.findCurrentUse(ns, BASE)).workloads;
  const records: SwitchRecord[] = s.canary
    ? await w.cluster.switchWorkloads({
        stage: 's',
        namespace: ns,
        workloads: uses,
        from: OLD,
        to: NEW,
        strategy: 'canary',
        weightPercent: s.canary,
        previousWeightPercent: 0,
      })
    : await w.cluster.switchWorkloads({ stage: 's', namespace: ns, workloads: uses, from: OLD, to: NEW, strategy: 'rolling' });
  // What the switch changed, per object: the expected report (less what someone else set back).
  const changed = new Map(records.filter((r) => r.fields.length || r.canary).map((r) => [`${r.kind}/${r.name}`, r]));
  let overridden: string | null = null;
  if (s.override !== null) {
    const r = records.filter((x) => x.fields.length)[s.override % Math.max(1, records.filter((x) => x.fields.length).length)];
    if (r && r.fields.length === 1 && !r.canary) {
      await w.setField(r.kind, ns, r.name, r.fields[0], 'manual-override');
      overridden = `${r.kind}/${r.name}`;
      changed.delete(overridden);
    }
  }
  const request: RevertInput = { stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records, ...(mark ? { markReverted: true } : {}) };
  // The killed attempt: the first objects of the revert done, its answer lost.
  const targets = revertTargets(request);
  const done = targets.slice(0, Math.min(s.killedAfter, targets.length));
  await w.cluster.revertWorkloads({ ...request, workloads: done, records: records.filter((r) => done.some((d) => d.kind === r.kind && d.name === r.name)) });
  const reported = await w.cluster.revertWorkloads(request);
  const story = JSON.stringify({ ...s, done: done.map((d) => d.name), overridden, reported: reported.map((r) => r.name) });

  assert.deepEqual(
    reported.map((r) => `${r.kind}/${r.name}`).sort(),
    [...changed.keys()].sort(),
    `the retry names every object any attempt reverted: ${story}`,
  );
  for (const r of reported) {
    const switched = changed.get(`${r.kind}/${r.name}`)!;
    assert.deepEqual([...r.fields].sort(), [...switched.fields].sort(), `fields of ${r.name}: ${story}`);
    assert.equal(!!r.canary, !!switched.canary, `green copy of ${r.name} reported: ${story}`);
  }
  for (const { kind, name } of names) {
    const refs = await w.refs(kind, ns, name);
    for (const [field, value] of Object.entries(refs))
      assert.equal(value, `${kind}/${name}` === overridden && value === 'manual-override' ? 'manual-override' : OLD, `${kind}/${name} ${field}: ${story}`);
  }
  assert.deepEqual(
    (await w.deployments(ns)).filter((d) => d.includes('-canary-')),
    [],
    `no green copy is left: ${story}`,
  );
  // The rollback's end (finalizeVersion 'failed') releases the records: none is left anywhere.
  await w.cluster.releaseWorkloads(ns, reported, NEW);
  for (const { kind, name } of names)
    assert.deepEqual(Object.keys(await w.annotations(kind, ns, name)).filter(isRecord), [], `records left on ${kind}/${name}: ${story}`);
}

describe('retried reverts, seeded and randomized', () => {
  it('a retry reports everything any attempt reverted, on memory and on the apiserver', async () => {
    console.log(`[revert-retry-randomized] seed ${SEED} (ROTOR_SEED=${SEED} replays it)`);
    await onBothWorlds(kc, scenario, play, 5);
  });

  for (const [label, make] of [
    ['memory', () => new MemoryWorld()],
    ['kubernetes', () => new KubeWorld(kc)],
  ] as const) {
    it(`named: a canary reverted by a killed attempt (blue and green) is reported by the retry (${label})`, async () => {
      await play(make(), {
        workloads: [
          { kind: 'Deployment', fields: [ENV] },
          { kind: 'StatefulSet', fields: [VOLUME] },
        ],
        canary: 50,
        killedAfter: 1,
        override: null,
      });
    });

    it(`named: without the record (a release before it), the retry would miss what the killed attempt did (${label})`, async () => {
      await assert.rejects(
        play(
          make(),
          {
            workloads: [
              { kind: 'Deployment', fields: [ENV] },
              { kind: 'CronJob', fields: [ENV_FROM] },
            ],
            canary: null,
            killedAfter: 1,
            override: null,
          },
          false,
        ),
        /the retry names every object any attempt reverted/,
      );
    });
  }
});
