// Seeded, randomized canaries in Git mode against the real apiserver (and the memory adapter, which
// must agree): Deployments that Flux or Argo CD applies (their labels, and the controller as field
// manager), canary steps below 100% made as live green copies, edits by others between rotor's steps
// (blue scaled, an env var inserted), steps retried after their effect, then either the controller
// applying rotor's commit at 100% (the test sets blue's references as kustomize-controller would) and
// the canary completed, or a rollback. After every step and at the end, the invariants:
// - blue is never touched by rotor: its references, replicas and metadata are what others left;
// - each green copy carries none of the controller's labels or annotations (not pruned, not adopted),
//   and is the smallest copy that is at least the step's share of blue plus green (never 0);
// - a retried step ends where one step ends;
// - a commit leaves blue on the new version with no green copy; a rollback leaves blue as others left
//   it with no green copy; either way no record of rotor's stays on blue.
// The seed is printed; replay one with ROTOR_SEED=<seed> (`npm run test:invariants` runs it too).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { greenName, ownershipKey } from '../activities/kubernetes';
import type { SwitchRecord } from '../contract/activities';
import { invariantSuite, maybeTwice } from './helpers/seeded-worlds';
import { ENV, ENV_FROM, VOLUME, type World } from './helpers/worlds';

const BASE = 'auth-api-secrets';
const OLD = `${BASE}-20250101000000`;
const NEW = `${BASE}-20261207100000`;
const FIELDS = [ENV, ENV_FROM, VOLUME];

/** How each GitOps controller marks what it applies, and the field manager it writes with. */
const CONTROLLERS = {
  flux: {
    labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' },
    annotations: {} as Record<string, string>,
    manager: 'kustomize-controller',
  },
  argo: {
    labels: { 'argocd.argoproj.io/instance': 'apps' },
    annotations: {} as Record<string, string>,
    manager: 'argocd-controller',
  },
};
const GITOPS_KEY = /(fluxcd\.io|argoproj\.io)/;

type Edit = { type: 'scaleUp'; target: number; by: number } | { type: 'insertEnv'; target: number };

interface Scenario {
  workloads: { fields: string[]; replicas: number; controller: keyof typeof CONTROLLERS }[];
  steps: number[];
  edits: { at: number; edit: Edit }[];
  retried: boolean[];
  /** Roll back after this many steps below 100%; null: the controller applies the commit, and the canary completes. */
  rollbackAfter: number | null;
  retryEnd: boolean;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    workloads: fc.array(
      fc.record({ fields: fc.subarray(FIELDS, { minLength: 1 }), replicas: fc.integer({ min: 1, max: 6 }), controller: fc.constantFrom('flux', 'argo') }),
      { minLength: 1, maxLength: 3 },
    ),
    steps: fc.subarray([10, 25, 50, 75, 90], { minLength: 1 }),
    edits: fc.array(
      fc.record({
        at: fc.nat({ max: 5 }),
        edit: fc.oneof(
          fc.record({ type: fc.constant('scaleUp' as const), target: fc.nat(), by: fc.integer({ min: 1, max: 3 }) }),
          fc.record({ type: fc.constant('insertEnv' as const), target: fc.nat() }),
        ),
      }),
      { maxLength: 5 },
    ),
    retried: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    rollbackAfter: fc.oneof(fc.constant(null), fc.nat({ max: 5 })),
    retryEnd: fc.boolean(),
  })
  .map((s) => ({ ...s, rollbackAfter: s.rollbackAfter === null ? null : Math.min(s.rollbackAfter, s.steps.length) }));

let scenarioNo = 0;
const seen = { scenarios: 0, committed: 0, rolledBack: 0, retried: 0, othersEdits: 0, steps: 0 };

async function runScenario(w: World, sc: Scenario): Promise<void> {
  const ns = `gitinv-${w.name.slice(0, 4)}-${++scenarioNo}`;
  await w.namespace(ns);
  for (const s of [OLD, NEW]) await w.secret(ns, s);
  const names: string[] = [];
  /** What others alone made of each blue: its replicas, and the env vars they inserted. */
  const replicas = new Map<string, number>();
  for (const [i, spec] of sc.workloads.entries()) {
    const name = `api-${i}`;
    const c = CONTROLLERS[spec.controller];
    await w.workload('Deployment', ns, name, OLD, { fields: spec.fields, replicas: spec.replicas, labels: c.labels, manager: c.manager });
    names.push(name);
    replicas.set(name, spec.replicas);
  }
  const uses = (await w.cluster.findCurrentUse(ns, BASE, { throughGit: true })).workloads;
  assert.deepEqual(uses.map((u) => u.name).sort(), [...names].sort());
  assert.ok(
    uses.every((u) => u.managedBy),
    'each is known as applied from Git',
  );

  const blueAsOthersLeft = async () => {
    const out: Record<string, unknown> = {};
    for (const n of names)
      out[n] = {
        refs: await w.refs('Deployment', ns, n),
        replicas: await w.replicas(ns, n),
        // (Less the deployment controller's revision, which it writes after others' edits in its own time.)
        annotations: Object.fromEntries(Object.entries(await w.annotations('Deployment', ns, n)).filter(([k]) => !k.startsWith('deployment.kubernetes.io/'))),
        labels: await w.labels('Deployment', ns, n),
      };
    return out;
  };
  const snapshot = async () => {
    const out: Record<string, unknown> = { blue: await blueAsOthersLeft() };
    for (const d of await w.deployments(ns)) out[`replicas:${d}`] = await w.replicas(ns, d);
    return out;
  };
  const twice = <T>(retry: boolean, what: string, call: () => Promise<T>) => {
    if (retry) seen.retried++;
    return maybeTwice(retry, what, snapshot, call);
  };
  const applyEdit = async (edit: Edit) => {
    const target = names[edit.target % names.length];
    if (edit.type === 'scaleUp') {
      const to = ((await w.replicas(ns, target)) ?? 0) + edit.by;
      await w.scale(ns, target, to);
      replicas.set(target, to);
    } else await w.insertEnvAbove('Deployment', ns, target, `INSERTED_${edit.target}`);
    seen.othersEdits++;
  };

  let records: SwitchRecord[] = [];
  const below = sc.rollbackAfter ?? sc.steps.length;
  for (const [i, weight] of sc.steps.entries()) {
    if (i >= below) break;
    for (const e of sc.edits.filter((x) => x.at === i)) await applyEdit(e.edit);
    const blue = await blueAsOthersLeft();
    records = await twice(sc.retried[i], `step ${weight}%`, () =>
      w.cluster.switchWorkloads({
        stage: 'production',
        namespace: ns,
        workloads: uses,
        from: OLD,
        to: NEW,
        strategy: 'canary',
        weightPercent: weight,
        previousWeightPercent: i === 0 ? 0 : sc.steps[i - 1],
        throughGit: true,
      }),
    );
    seen.steps++;
    assert.deepEqual(await blueAsOthersLeft(), blue, `step ${weight}%: blue untouched by rotor`);
    for (const n of names) {
      const green = greenName(n, NEW);
      assert.ok((await w.deployments(ns)).includes(green), `step ${weight}%: ${green} made`);
      const gitops = [...Object.keys(await w.labels('Deployment', ns, green)), ...Object.keys(await w.annotations('Deployment', ns, green))].filter((k) =>
        GITOPS_KEY.test(k),
      );
      assert.deepEqual(gitops, [], `step ${weight}%: ${green} carries none of the controller's metadata`);
      assert.deepEqual(
        [...new Set(Object.values(await w.refs('Deployment', ns, green)))],
        [NEW],
        `step ${weight}%: ${green} reads the new version at every reference`,
      );
      const g = (await w.replicas(ns, green)) ?? 0;
      const b = replicas.get(n)!;
      assert.ok(g >= 1 && g * 100 >= weight * (g + b), `step ${weight}%: ${g} beside ${b} is at least ${weight}%`);
      assert.ok((g - 1) * 100 < weight * (g - 1 + b) || g === 1, `step ${weight}%: ${g} beside ${b} is the smallest such copy`);
    }
  }
  for (const e of sc.edits.filter((x) => x.at >= below)) await applyEdit(e.edit);

  const commit = sc.rollbackAfter === null;
  seen.scenarios++;
  if (commit) {
    seen.committed++;
    // The controller applies rotor's commit: blue's references, as kustomize-controller writes them.
    for (const [i, n] of names.entries()) for (const f of sc.workloads[i].fields) await w.setField('Deployment', ns, n, f, NEW);
    assert.deepEqual(await w.cluster.driftedReferences(records, NEW), [], 'nothing set back');
    await twice(sc.retryEnd, 'completing the canary', () => w.cluster.completeCanary(ns, records, NEW));
    await twice(sc.retryEnd, 'releasing', () => w.cluster.releaseWorkloads(ns, records, NEW));
  } else {
    seen.rolledBack++;
    await twice(sc.retryEnd, 'the rollback', () =>
      w.cluster.revertWorkloads({ stage: 'production', namespace: ns, workloads: uses, from: NEW, to: OLD, records }),
    );
  }
  assert.deepEqual(await w.deployments(ns), [...names].sort(), 'no green copy is left');
  for (const [i, n] of names.entries()) {
    const expected = Object.fromEntries(sc.workloads[i].fields.map((f) => [f, commit ? NEW : OLD]));
    assert.deepEqual(await w.refs('Deployment', ns, n), expected, `${n} after ${commit ? 'the commit' : 'the rollback'}`);
    assert.equal(await w.replicas(ns, n), replicas.get(n), `${n}: replicas as others left them`);
    assert.equal((await w.annotations('Deployment', ns, n))[ownershipKey(NEW)], undefined, `${n}: no record of rotor's`);
  }
}

invariantSuite(
  { tag: 'invariants-git', title: 'randomized Git-mode canaries keep every invariant', defaultRuns: 8, sandbox: { readyDelayMs: 200 }, seen },
  scenarioArb,
  runScenario,
);
