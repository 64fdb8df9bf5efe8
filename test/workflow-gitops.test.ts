// References that Git owns (issue 21), on the time-skipping server with activity doubles over the
// memory cluster: a workload a GitOps controller applies is refused in PLANNING with nothing changed,
// and a reference set back by someone else after rotor switched it (a self-heal, a sync, a hand edit)
// rolls the rotation back, named, at whatever step it is found: never COMPLETED on a set-back workload.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryCluster } from '../activities/memory';
import type { CheckKind } from '../contract/activities';
import type { RotationStatus } from '../contract/api';
import { ENV_FROM, type Doubles } from './helpers/doubles';
import { twoStagePlan } from './helpers/plans';
import { timeSkippingRotations } from './helpers/rotations';

const OLD = 'auth-api-secrets-20250101000000';
const { run } = timeSkippingRotations('gitops');

/**
 * Someone else points the default workload's envFrom back at the previous version (as Argo CD's
 * self-heal would); whether that set back a reference rotor had switched.
 */
function setBack(cluster: MemoryCluster, namespace: string): boolean {
  const w = cluster.world.workloads.find((x) => x.namespace === namespace && x.name === 'auth-api' && x.kind === 'Deployment')!;
  const switched = w.refs[ENV_FROM] !== OLD;
  w.refs[ENV_FROM] = OLD;
  return switched;
}

/** A rotation during whose `check` analysis someone sets the default workload in `namespace` back. */
function setBackDuring(check: CheckKind, namespace: string, plan: object) {
  const cluster = new MemoryCluster({ secrets: [], workloads: [] });
  return run(
    {
      cluster,
      check: (input) => {
        if (input.check === check) setBack(cluster, namespace);
        return 'passed';
      },
    },
    plan,
  );
}

/** Everything a rotation that found a set-back reference must show: rolled back, the drift named, nothing committed or deleted. */
function assertRolledBackOnDrift(d: Doubles, status: RotationStatus, namespace: string, before: RegExp): void {
  assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
  assert.match(status.outcome!, before);
  assert.ok(status.outcome!.includes(`Deployment ${namespace}/auth-api: ${ENV_FROM} names ${OLD} (the previous version) now, not ${status.newVersion}`));
  assert.ok(!status.events.some((e) => e.phase === 'COMPLETED' || e.phase === 'RETAINING'), 'never committed');
  assert.deepEqual(
    d.called('finalizeVersion').map((i) => i.outcome),
    ['failed'],
  );
  assert.equal(d.called('deleteVersion').length, 0, 'the previous version is kept');
  for (const ns of ['staging', 'production']) {
    const w = d.workload(ns, 'auth-api')!;
    assert.deepEqual([...new Set(Object.values(w.refs))], [OLD], `${ns}: every reference on the previous version again`);
    assert.deepEqual(
      Object.keys(w.annotations ?? {}).filter((k) => k.startsWith('rotor.dev/switch-')),
      [],
      `${ns}: no record of rotor's left`,
    );
    assert.ok(d.secretNames(ns).includes(OLD));
  }
}

describe('rotateSecret and references that Git owns', () => {
  it('refuses in PLANNING a workload that Argo CD applies, naming it, its application and the fix, with nothing changed', async () => {
    const cluster = new MemoryCluster({ secrets: [], workloads: [] });
    for (const namespace of ['staging', 'production']) {
      cluster.world.secrets.push({ namespace, name: OLD, data: { api_token: 'rotor-leak-canary-old-token-value' }, immutable: true });
      cluster.world.workloads.push({ kind: 'Deployment', namespace, name: 'auth-api', replicas: 4, refs: { [ENV_FROM]: OLD } });
    }
    const applied = cluster.world.workloads.find((w) => w.namespace === 'production')!;
    applied.labels = { 'argocd.argoproj.io/instance': 'auth-api-prod' };
    const before = structuredClone(cluster.world.workloads);
    const { d, status } = await run({ cluster, previous: { staging: null, production: null } }, twoStagePlan());
    assert.equal(status.phase, 'FAILED');
    assert.match(
      status.outcome!,
      /could not discover workloads \(nothing was changed\): .*production: Deployment\/auth-api is managed by Argo CD Application auth-api-prod \(label argocd\.argoproj\.io\/instance=auth-api-prod\).*give the stage gitops settings/,
    );
    assert.deepEqual(
      d.calls.map((c) => c.name).filter((n) => n !== 'announce'),
      ['discover'],
      'refused before the claim',
    );
    assert.deepEqual(cluster.world.workloads, before, 'no workload changed');
    assert.deepEqual(d.secretNames('staging'), [OLD], 'no version created');
    assert.deepEqual(cluster.world.claims ?? {}, {}, 'no claim taken');
  });

  it('rolls back, naming the drift, when a reference is set back right after the switch (during the rollout wait)', async () => {
    const plan = twoStagePlan();
    const { d, status } = await run({ afterSwitch: (x, input) => input.namespace === 'staging' && setBack(x.cluster, 'staging') }, plan);
    assertRolledBackOnDrift(d, status, 'staging', /rolled back: rollout in staging did not become ready: set back by someone else since rotor switched it/);
    assert.equal(d.called('monitorAnalysis').length, 0, 'no analysis judged a set-back template');
    assert.ok(!d.called('switchWorkloads').some((i) => i.namespace === 'production'), 'production never touched');
  });

  it('rolls back when the reference is set back after the rollout, before the verification', async () => {
    const { d, status } = await run({ beforeCheckSwitched: (x, nth) => nth === 0 && setBack(x.cluster, 'staging') }, twoStagePlan());
    assertRolledBackOnDrift(d, status, 'staging', /set back by someone else before the verify check in staging/);
    assert.equal(d.called('monitorAnalysis').length, 0);
    assert.equal(d.called('checkSwitched').length, 1);
  });

  it('rolls back when staging is set back during its soak: found before production is judged, production reverted too', async () => {
    const { d, status } = await setBackDuring('soak', 'staging', twoStagePlan());
    assertRolledBackOnDrift(d, status, 'staging', /set back by someone else before the canary analysis in production/);
    assert.deepEqual(
      d.called('monitorAnalysis').map((i) => `${i.stage}:${i.check}`),
      ['staging:verify', 'staging:soak'],
    );
    assert.deepEqual(
      d.called('revertWorkloads').map((i) => i.namespace),
      ['production', 'staging'],
    );
  });

  it('rolls back when the last stage is set back during the watch, before the commit', async () => {
    const { d, status } = await setBackDuring('watch', 'production', twoStagePlan({ production: { strategy: 'rolling' } }));
    assertRolledBackOnDrift(d, status, 'production', /set back by someone else before the commit/);
    assert.ok(d.called('monitorAnalysis').some((i) => i.check === 'watch'));
  });

  it('rolls back when a canary is set back between its steps, before the next one', async () => {
    const cluster = new MemoryCluster({ secrets: [], workloads: [] });
    // Staging by canary without analysis: its StatefulSet moves at the 100% step, its Deployment by replica weight.
    const plan = twoStagePlan({
      staging: { strategy: { canary: { steps: [50, 100], pause: '0s' } }, analysis: undefined, soak: '1h' },
      production: { strategy: 'rolling' },
    });
    const { d, status } = await run(
      {
        cluster,
        afterSwitch: (_x, input) => {
          if (input.namespace === 'staging' && input.weightPercent === 100) setBack(cluster, 'staging');
        },
        rollout: (input) => (input.namespace === 'staging' && input.version ? { ready: true, message: 'scripted: rolled out' } : undefined),
      },
      plan,
    );
    // The scripted rollout hides the set-back from the rollout wait: the check before the green copies go finds it.
    assertRolledBackOnDrift(d, status, 'staging', /set back by someone else before removing the canary copies in staging/);
    assert.equal(d.called('completeCanary').length, 0);
  });

  it('completes as before when nothing was set back, with one read-back per step that relies on the switch', async () => {
    const { d, status } = await run({}, twoStagePlan());
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    // Only references rotor has switched are read back: production's Deployment moves at the canary's 100% step.
    assert.deepEqual(
      d.called('checkSwitched').map((i) => i.records.map((r: { namespace: string }) => r.namespace).join(',')),
      [
        'staging', // before staging's verify
        'staging', // before staging's soak
        'staging', // before production's canary analysis at 10% (its Deployment moves only at 100%)
        'staging', // before step 25%
        'staging', // its analysis
        'staging', // before step 50%
        'staging', // its analysis
        'staging', // before step 100%
        'staging,production', // its analysis
        'staging,production', // before the green copies go
        'staging,production', // before the watch
        'staging,production', // before the commit
      ],
    );
  });

  // Seeded, randomized: plans of random shape (rolling or canary production, with or without analysis,
  // soak and watch) and one self-heal at a random moment (after a switch, before a read-back, during an
  // analysis) in a random namespace. A set-back of a switched reference always ends ROLLED_BACK naming
  // it; never COMPLETED with a reference off the new version. ROTOR_SEED=<seed> replays it.
  it('never completes with a set-back reference, wherever the self-heal strikes (seeded)', async () => {
    const seed = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;
    console.log(`[workflow-gitops] seed ${seed} (ROTOR_SEED=${seed} replays it)`);
    let struck = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          canary: fc.option(fc.subarray([10, 25, 50], { minLength: 1 }), { nil: null }),
          analysis: fc.boolean(),
          soak: fc.constantFrom('0s', '1h'),
          watch: fc.constantFrom('0s', '1h'),
          heal: fc.option(
            fc.record({
              when: fc.constantFrom('afterSwitch', 'beforeReadBack', 'duringAnalysis'),
              nth: fc.nat({ max: 3 }),
              namespace: fc.constantFrom('staging', 'production'),
            }),
            { nil: null },
          ),
        }),
        async ({ canary, analysis, soak, watch, heal }) => {
          const cluster = new MemoryCluster({ secrets: [], workloads: [] });
          let setBackSwitched = false;
          const strike = (when: string, nth: number) => {
            if (heal && heal.when === when && heal.nth === nth) setBackSwitched = setBack(cluster, heal.namespace) || setBackSwitched;
          };
          let analyses = 0;
          const plan = twoStagePlan({
            staging: { soak, ...(analysis ? {} : { analysis: undefined }) },
            production: {
              watch,
              strategy: canary ? { canary: { steps: [...canary, 100], pause: analysis ? '10m' : '0s' } } : 'rolling',
              ...(analysis ? {} : { analysis: undefined }),
            },
          });
          const { d, status } = await run(
            {
              cluster,
              afterSwitch: (_x, _input, nth) => strike('afterSwitch', nth),
              beforeCheckSwitched: (_x, nth) => strike('beforeReadBack', nth),
              check: () => {
                strike('duringAnalysis', analyses++);
                return 'passed';
              },
            },
            plan,
          );
          if (status.phase === 'COMPLETED') {
            for (const ns of ['staging', 'production'])
              assert.deepEqual(Object.values(d.workload(ns, 'auth-api')!.refs), [status.newVersion], `${ns}: COMPLETED only on the new version`);
          }
          if (setBackSwitched) {
            struck++;
            assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
            assert.ok(status.outcome!.includes(`${ENV_FROM} names ${OLD} (the previous version) now`), status.outcome!);
          } else assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
        },
      ),
      { seed, numRuns: 12, endOnFailure: true },
    );
    console.log(`[workflow-gitops] ${struck} of 12 scenarios set a switched reference back`);
  });
});
