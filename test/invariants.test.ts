// Seeded, randomized rotations against the real apiserver (and the memory adapter, which must agree):
// random workloads of every switchable kind with references in random places, rolling or canary, edits
// by others between rotor's steps (env vars inserted, fields pointed elsewhere, replicas scaled up,
// another rotation's canary on the same Deployment), steps retried after their effect, switches that
// fail half-way, and an end in commit or rollback. After every step and at the end, the invariants:
// - a rollback restores exactly what rotor changed, and keeps what others changed;
// - a commit leaves every reference rotor switched on the new version, and no green copy of its own;
// - a reference someone set back after rotor switched it (a GitOps self-heal) is found before the commit,
//   which rolls back instead: never a commit with a set-back reference;
// - replicas end as others left them (or as they were), never as rotor left them;
// - during a canary, blue plus its green copies never drop below blue's replicas;
// - a retried step ends where one step ends;
// - a Secret that anything refers to is never deleted.
// On the apiserver rotor acts as the worker's ServiceAccount, confined by its admission policy: each
// of its steps, adopting and deleting a Secret made by hand included, must pass the policy.
// The seed is printed; replay one with ROTOR_SEED=<seed>. `npm run test:invariants -- --scenarios=200`
// runs 200 scenarios against the apiserver (1,000 against memory) with no time limit.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { greenName, ownershipKey } from '../activities/kubernetes';
import type { SwitchRecord, WorkloadUse } from '../contract/activities';
import { invariantSuite, maybeTwice } from './helpers/seeded-worlds';
import { ENV, ENV_FROM, VOLUME, type Kind, type World } from './helpers/worlds';

const BASE = 'auth-api-secrets';
const OLD = `${BASE}-20250101000000`;
const NEW = `${BASE}-20251130100000`;
const OTHER = 'billing-key';
const OTHER_OLD = `${OTHER}-20250101000000`;
const OTHER_NEW = `${OTHER}-20251130100000`;
const FIELDS = [ENV, ENV_FROM, VOLUME];

interface WorkloadSpec {
  kind: Kind;
  fields: string[];
  replicas: number;
  /** A Deployment whose volume names the other Secret: another rotation can run a canary on it. */
  shared: boolean;
}

type Edit =
  | { type: 'insertEnv'; target: number }
  | { type: 'point'; target: number; field: string }
  | { type: 'scaleUp'; target: number; by: number }
  /** A GitOps self-heal: a field set back to the previous version, switched or not. */
  | { type: 'setBack'; target: number; field: string }
  | { type: 'otherCanary'; steps: number };

interface Scenario {
  workloads: WorkloadSpec[];
  steps: number[];
  canary: boolean;
  /** Edits by others before step i (i = steps.length: after the last step). */
  edits: { at: number; edit: Edit }[];
  retried: boolean[];
  /** The step whose switch fails half-way (a workload deleted meanwhile), or none. */
  failsAt: number | null;
  ghostAt: number;
  /** Roll back after this many steps; null: commit after all of them. */
  rollbackAfter: number | null;
  retryEnd: boolean;
}

const workloadArb: fc.Arbitrary<WorkloadSpec> = fc
  .record({
    kind: fc.constantFrom<Kind>('Deployment', 'Deployment', 'Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'),
    fields: fc.subarray(FIELDS, { minLength: 1 }),
    replicas: fc.integer({ min: 1, max: 5 }),
    shared: fc.boolean(),
  })
  .map((w) => {
    // A shared Deployment keeps its volume for the other Secret and needs one field of its own.
    const shared = w.shared && w.kind === 'Deployment' && w.fields.some((f) => f !== VOLUME);
    return { ...w, shared, fields: shared ? w.fields.filter((f) => f !== VOLUME) : w.fields };
  });

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ type: fc.constant('insertEnv' as const), target: fc.nat() }),
  fc.record({ type: fc.constant('point' as const), target: fc.nat(), field: fc.constantFrom(...FIELDS) }),
  fc.record({ type: fc.constant('scaleUp' as const), target: fc.nat(), by: fc.integer({ min: 1, max: 3 }) }),
  { arbitrary: fc.record({ type: fc.constant('setBack' as const), target: fc.nat(), field: fc.constantFrom(...FIELDS) }), weight: 2 },
  // Another rotation's canary on the same Deployments, one or two of its steps at a time.
  { arbitrary: fc.record({ type: fc.constant('otherCanary' as const), steps: fc.integer({ min: 1, max: 2 }) }), weight: 3 },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    workloads: fc.array(workloadArb, { minLength: 1, maxLength: 4 }),
    canary: fc.boolean(),
    canarySteps: fc.subarray([10, 25, 50, 75], { minLength: 1 }),
    edits: fc.array(fc.record({ at: fc.nat({ max: 5 }), edit: editArb }), { maxLength: 6 }),
    retried: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    failsAt: fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: fc.nat({ max: 4 }), weight: 1 }),
    ghostAt: fc.nat(),
    rollbackAfter: fc.oneof({ arbitrary: fc.constant(null), weight: 1 }, { arbitrary: fc.nat({ max: 4 }), weight: 1 }),
    retryEnd: fc.boolean(),
  })
  .map((s) => {
    const steps = s.canary ? [...s.canarySteps, 100] : [100];
    const clamp = (n: number | null) => (n === null ? null : Math.min(n, steps.length - 1));
    return {
      workloads: s.workloads,
      steps,
      canary: s.canary,
      edits: s.edits.map((e) => ({ ...e, at: Math.min(e.at, steps.length) })),
      retried: s.retried,
      failsAt: clamp(s.failsAt),
      ghostAt: s.ghostAt,
      rollbackAfter: s.rollbackAfter === null ? null : Math.min(s.rollbackAfter, steps.length),
      retryEnd: s.retryEnd,
    };
  });

/** What the world should be, by others' hands only: rotor's own changes are judged against it. */
interface Model {
  refs: Map<string, Record<string, string>>;
  replicas: Map<string, number>;
}

let scenarioNo = 0;
/** What the scenarios covered, printed at the end so a run says what it exercised. */
const seen = { scenarios: 0, canary: 0, rolledBack: 0, committed: 0, retried: 0, halfWay: 0, othersEdits: 0, concurrentCanaries: 0, setBackFound: 0 };

async function runScenario(w: World, sc: Scenario): Promise<void> {
  const ns = `inv-${w.name.slice(0, 4)}-${++scenarioNo}`;
  await w.namespace(ns);
  for (const s of [OLD, NEW, OTHER_OLD, OTHER_NEW]) await w.secret(ns, s);
  const model: Model = { refs: new Map(), replicas: new Map() };
  const names: { kind: Kind; name: string }[] = [];
  for (const [i, spec] of sc.workloads.entries()) {
    const name = `${spec.kind.toLowerCase()}-${i}`;
    await w.workload(spec.kind, ns, name, OLD, { fields: spec.fields, replicas: spec.replicas });
    const refs = Object.fromEntries(spec.fields.map((f) => [f, OLD]));
    if (spec.shared) {
      await w.setField(spec.kind, ns, name, VOLUME, OTHER_OLD);
      refs[VOLUME] = OTHER_OLD;
    }
    names.push({ kind: spec.kind, name });
    model.refs.set(name, refs);
    if (spec.kind === 'Deployment') model.replicas.set(name, spec.replicas);
  }
  const deployments = names.filter((n) => n.kind === 'Deployment').map((n) => n.name);

  const uses = (await w.cluster.findCurrentUse(ns, BASE)).workloads;
  assert.deepEqual(uses.map((u) => u.name).sort(), names.map((n) => n.name).sort(), 'every workload uses the current version');
  // The other rotation (of OTHER), run by hand between this rotation's steps.
  const other: { uses: WorkloadUse[] | null; weight: number } = { uses: null, weight: 0 };

  const greensOf = async (blue: string) => (await w.deployments(ns)).filter((d) => d === greenName(blue, NEW) || d === greenName(blue, OTHER_NEW));

  /** Everything rotor could have changed, to compare a retried call with the call it repeats. */
  const snapshot = async () => {
    const out: Record<string, unknown> = {};
    for (const n of names) out[n.name] = { refs: await w.refs(n.kind, ns, n.name), mine: (await w.annotations(n.kind, ns, n.name))[ownershipKey(NEW)] ?? null };
    for (const d of await w.deployments(ns)) out[`replicas:${d}`] = await w.replicas(ns, d);
    return out;
  };

  const capacity = async (when: string) => {
    for (const d of deployments) {
      let total = (await w.replicas(ns, d)) ?? 0;
      for (const g of await greensOf(d)) total += (await w.replicas(ns, g)) ?? 0;
      assert.ok(total >= model.replicas.get(d)!, `${when}: ${d} and its green copies have ${total} replicas, fewer than ${model.replicas.get(d)}`);
    }
  };

  const applyEdit = async (edit: Edit) => {
    if (edit.type === 'otherCanary') {
      other.uses ??= (await w.cluster.findCurrentUse(ns, OTHER)).workloads;
      if (other.uses.length && other.weight < 50 && scaled) seen.concurrentCanaries++;
      for (let n = 0; n < edit.steps && other.uses.length && other.weight < 50; n++) {
        const weight = other.weight === 0 ? 25 : 50;
        await w.cluster.switchWorkloads({
          stage: 'other',
          namespace: ns,
          workloads: other.uses,
          from: OTHER_OLD,
          to: OTHER_NEW,
          strategy: 'canary',
          weightPercent: weight,
          previousWeightPercent: other.weight,
        });
        other.weight = weight;
      }
      return;
    }
    const target = names[edit.target % names.length];
    if (edit.type === 'insertEnv') {
      await w.insertEnvAbove(target.kind, ns, target.name, `INSERTED_${edit.target}`);
    } else if (edit.type === 'point') {
      const refs = model.refs.get(target.name)!;
      const field = edit.field in refs ? edit.field : Object.keys(refs)[0];
      const value = `manual-${edit.target % 7}`;
      await w.setField(target.kind, ns, target.name, field, value);
      refs[field] = value;
    } else if (edit.type === 'setBack') {
      // Only a field rotor is to switch (the model's OLD): set back to OLD whatever it names now.
      const field = Object.keys(model.refs.get(target.name)!).find((f) => f === edit.field && model.refs.get(target.name)![f] === OLD);
      if (field) await w.setField(target.kind, ns, target.name, field, OLD);
    } else if (target.kind === 'Deployment') {
      const to = ((await w.replicas(ns, target.name)) ?? 0) + edit.by;
      await w.scale(ns, target.name, to);
      model.replicas.set(target.name, to);
    }
  };

  const twice = <T>(retry: boolean, what: string, call: () => Promise<T>) => maybeTwice(retry, what, snapshot, call);

  let records: SwitchRecord[] = [];
  let failed = false;
  /** Whether this rotation's canary has taken replicas from blue yet. */
  let scaled = false;
  let done = 0;
  const end = sc.rollbackAfter ?? sc.steps.length;
  for (const [i, weight] of sc.steps.entries()) {
    if (i >= end) break;
    for (const e of sc.edits.filter((x) => x.at === i)) await applyEdit(e.edit);
    const input = {
      stage: 's',
      namespace: ns,
      workloads: uses,
      from: OLD,
      to: NEW,
      strategy: sc.canary ? ('canary' as const) : ('rolling' as const),
      ...(sc.canary ? { weightPercent: weight, previousWeightPercent: i === 0 ? 0 : sc.steps[i - 1] } : {}),
    };
    if (sc.failsAt === i) {
      // The apiserver refuses one workload half-way through the step: the activity fails, no record comes back.
      const ghost = { kind: 'Deployment' as const, namespace: ns, name: 'deleted-meanwhile', fields: [ENV] };
      const list = [...uses];
      list.splice(sc.ghostAt % (list.length + 1), 0, ghost);
      await assert.rejects(w.cluster.switchWorkloads({ ...input, workloads: list }));
      failed = true;
      seen.halfWay++;
      break;
    }
    records = await twice(sc.retried[i], `step ${weight}%`, () => w.cluster.switchWorkloads(input));
    done = i + 1;
    scaled ||= sc.canary && i > 0 && weight < 100;
    if (sc.retried[i]) seen.retried++;
    await capacity(`after step ${weight}%`);
  }
  for (const e of sc.edits.filter((x) => x.at === sc.steps.length)) await applyEdit(e.edit);
  // Before a commit, as the workflow does: every reference rotor switched still names NEW, or it rolls back.
  const drift = failed ? [] : await w.cluster.driftedReferences(records, NEW);
  const moved: string[] = [];
  for (const r of records) {
    const n = names.find((x) => x.name === r.name)!;
    const live = await w.refs(n.kind, ns, n.name);
    for (const f of r.fields) if (live[f] !== undefined && live[f] !== NEW) moved.push(`${r.name}:${f}`);
  }
  assert.deepEqual(drift.map((d) => `${d.name}:${d.field}`).sort(), [...new Set(moved)].sort(), 'every set-back reference is found, and only those');
  const commit = !failed && done === sc.steps.length && sc.rollbackAfter === null && drift.length === 0;
  if (drift.length && !failed && done === sc.steps.length && sc.rollbackAfter === null) seen.setBackFound++;
  seen.scenarios++;
  if (sc.canary) seen.canary++;
  if (commit) seen.committed++;
  else seen.rolledBack++;
  seen.othersEdits += sc.edits.length;

  if (commit) {
    await twice(sc.retryEnd, 'completing the canary', () => w.cluster.completeCanary(ns, records, NEW));
    await twice(sc.retryEnd, 'releasing', () => w.cluster.releaseWorkloads(ns, records, NEW));
  } else {
    await twice(sc.retryEnd, 'the rollback', () => w.cluster.revertWorkloads({ stage: 's', namespace: ns, workloads: uses, from: NEW, to: OLD, records }));
  }

  const left = await w.deployments(ns);
  for (const d of deployments) assert.ok(!left.includes(greenName(d, NEW)), `this rotation's green copy of ${d} is gone`);
  if (other.weight > 0) {
    // The other rotation's canary is still there, untouched; then it rolls back too.
    for (const u of other.uses!) assert.ok(left.includes(greenName(u.name, OTHER_NEW)), `the other rotation's green copy of ${u.name} is kept`);
    await w.cluster.revertWorkloads({ stage: 'other', namespace: ns, workloads: other.uses!, from: OTHER_NEW, to: OTHER_OLD, records: [] });
  }

  // The end state, against what others alone did: both rotations' replica changes are undone.
  for (const n of names) {
    const expected = Object.fromEntries(Object.entries(model.refs.get(n.name)!).map(([f, v]) => [f, commit && v === OLD ? NEW : v]));
    assert.deepEqual(await w.refs(n.kind, ns, n.name), expected, `${n.kind}/${n.name} after ${commit ? 'commit' : 'rollback'}`);
    assert.equal((await w.annotations(n.kind, ns, n.name))[ownershipKey(NEW)], undefined, `${n.name}: rotor's record is gone`);
  }
  for (const d of deployments) assert.equal(await w.replicas(ns, d), model.replicas.get(d), `replicas of ${d}`);
  assert.deepEqual((await w.deployments(ns)).sort(), [...deployments].sort(), 'no green copy is left');

  // A Secret that anything refers to is never deleted.
  const referenced = new Set<string>();
  for (const n of names) for (const v of Object.values(await w.refs(n.kind, ns, n.name))) referenced.add(v);
  for (const s of [OLD, NEW, OTHER_OLD, OTHER_NEW]) {
    const outcome = await w.cluster.deleteUnreferenced(ns, s);
    // (One nothing names may still be kept: pods of a rollout in progress hold it too.)
    if (referenced.has(s)) {
      assert.equal(outcome.deleted, false, `${s} is referenced and must not be deleted`);
      assert.ok(await w.secretExists(ns, s));
    }
  }
}

invariantSuite(
  { tag: 'invariants', title: 'randomized rotations keep every invariant', defaultRuns: 10, sandbox: { readyDelayMs: 200, jobDurationMs: 200 }, seen },
  scenarioArb,
  runScenario,
);
