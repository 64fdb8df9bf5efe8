// Whose is a version, a credential, a claim: on the real time-skipping server with rotor's activities
// over the memory cluster and issuer. A credential lives wherever copies of its version live, whatever
// plan retires them; two rotations that chose the same version name (same second, other namespaces)
// never share a credential; two rotor deployments never take each other's claims.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import fc from 'fast-check';
import { MemoryCluster } from '../activities/memory';
import { MemoryCredentialIssuer } from '../activities/issuers/memory';
import { statusQuery, type RotationStatus } from '../contract/api';
import { versionOfCredential } from '../domain/naming';
import { workflowBundle } from '../sandbox/time-skipping';
import { rotateSecret } from '../workflows';
import { Doubles, type Script } from './helpers/doubles';
import { twoStagePlan } from './helpers/plans';
import { useTimeSkippingEnv } from './helpers/rotations';
import { ENV_FROM } from './helpers/worlds';

const SECRET = 'auth-api-secrets';
const OLD = `${SECRET}-20250101000000`;
const issuerValue = { issuer: { key: 'api_token', scope: 'auth:verify' } };

let env: TestWorkflowEnvironment;
useTimeSkippingEnv((e) => (env = e));
let seq = 0;

/** A plan over some namespaces (rolling, a short soak and watch), its value from the issuer. */
function planOver(namespaces: string[], top: object = {}): Record<string, unknown> {
  const base = twoStagePlan({ top: { value: issuerValue, retention: '1h', cleanupRecheck: '1h', ...top } });
  return {
    ...base,
    stages: namespaces.map((ns, i) => ({
      name: ns,
      namespace: ns,
      strategy: 'rolling',
      analysis: { provider: 'prometheus', query: `errors{namespace="${ns}"}`, threshold: 0.01, interval: '1m', failureLimit: 1 },
      ...(i < namespaces.length - 1 ? { soak: '10m' } : { watch: '10m' }),
    })),
  };
}

/**
 * One wait for a result at a time, across every worker of the file: the time-skipping client's
 * concurrent waits unbalance its time-skipping lock (time then skips past running activities, or
 * never skips again).
 */
let waits: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(wait: () => Promise<T>): Promise<T> {
  const next = waits.then(wait);
  waits = next.catch(() => undefined);
  return next;
}

/** Rotations started together on one worker of `d`'s activities; how each ended. */
async function rotate(d: Doubles, plans: Record<string, unknown>[]): Promise<RotationStatus[]> {
  const n = ++seq;
  const taskQueue = `identities-${n}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: d.activities() });
  return worker.runUntil(async () => {
    const handles = await Promise.all(
      plans.map((plan, i) => env.client.workflow.start(rotateSecret, { taskQueue, workflowId: `rotate-ids-${n}-${i}`, args: [{ plan, requestedBy: 'test' }] })),
    );
    const ended: RotationStatus[] = [];
    for (const h of handles) ended.push(await oneAtATime(() => h.result().catch(() => h.query(statusQuery))));
    return ended;
  });
}

/** One world (cluster and issuer) that several rotations, and several worker deployments, share. */
function world(): { cluster: MemoryCluster; issuer: MemoryCredentialIssuer } {
  return { cluster: new MemoryCluster({ secrets: [], workloads: [] }), issuer: new MemoryCredentialIssuer({ mode: 'overlapping', maxLive: 10 }) };
}

const said = (s: RotationStatus) => s.events.map((e) => e.message).join('\n');
const credential = (w: ReturnType<typeof world>, id: string | null | undefined) => w.issuer.issued().find((c) => c.id === id)?.state;
/** Seeded once: later rotations of the world find what earlier ones left. */
const reuse = (w: ReturnType<typeof world>, extra: Script = {}): Script => ({
  ...w,
  previous: { staging: null, production: null, qa: null, web: null },
  ...extra,
});

describe('a credential lives wherever copies of its version live', () => {
  it('a plan over staging alone retires its copy and keeps the credential production still runs on; the last copy retired revokes it', async () => {
    const w = world();
    const [r1] = await rotate(new Doubles({ ...w, previousIssued: true }), [planOver(['staging', 'production'])]);
    assert.equal(r1.phase, 'COMPLETED', r1.outcome ?? '');
    const x = r1.newVersion!;
    const xId = r1.newCredential!;
    assert.equal(credential(w, xId), 'active');
    assert.equal(credential(w, OLD), 'revoked', 'the first rotation retired the previous version everywhere it was used');

    const [r2] = await rotate(new Doubles(reuse(w)), [planOver(['staging'])]);
    assert.equal(r2.phase, 'COMPLETED', r2.outcome ?? '');
    assert.deepEqual(r2.previousVersions, { staging: x });
    assert.ok(!w.cluster.world.secrets.some((s) => s.namespace === 'staging' && s.name === x), 'staging retired its own copy');
    assert.ok(
      w.cluster.world.secrets.some((s) => s.namespace === 'production' && s.name === x),
      "production's copy is not this plan's",
    );
    assert.equal(credential(w, xId), 'active', 'production still runs on it: never revoked from staging');
    assert.match(said(r2), new RegExp(`issuer: ${xId.replace(/\./g, '\\.')} stays live: ${x} is still used in production by Deployment/auth-api`));
    assert.doesNotMatch(r2.outcome!, /revoked at the issuer/);

    // Later, both again: staging's version of the second rotation and production's copy of the first go.
    const [r3] = await rotate(new Doubles(reuse(w)), [planOver(['staging', 'production'])]);
    assert.equal(r3.phase, 'COMPLETED', r3.outcome ?? '');
    assert.equal(credential(w, xId), 'revoked', 'the plan that retired the last copy revoked it');
    assert.match(r3.outcome!, new RegExp(`${xId.replace(/\./g, '\\.')} revoked at the issuer`));
    // Each rotation's credential is its own: staging moved off the second's (retired with its only copy); the third's is live.
    assert.notEqual(r2.newCredential, r3.newCredential);
    assert.equal(credential(w, r2.newCredential), 'revoked');
    assert.equal(credential(w, r3.newCredential), 'active');
  });

  it('keeps the credential when a namespace holding a copy cannot be read, and says which', async () => {
    const w = world();
    const [r1] = await rotate(new Doubles({ ...w, previousIssued: true }), [planOver(['staging', 'production'])]);
    assert.equal(r1.phase, 'COMPLETED', r1.outcome ?? '');
    w.cluster.world.unreadableNamespaces = ['production'];
    const [r2] = await rotate(new Doubles(reuse(w)), [planOver(['staging'])]);
    assert.equal(r2.phase, 'COMPLETED', r2.outcome ?? '');
    assert.equal(credential(w, r1.newCredential), 'active');
    assert.match(
      said(r2),
      /stays live: a copy of .* may be in a namespace this worker cannot read: production \(read Secret production\/.* HTTP 403 Forbidden/,
    );
  });

  it('with copies never recorded (made by hand or by an older rotor) and Secrets unreadable somewhere, keeps a credential while anything in any namespace names it, and revokes it once nothing does', async () => {
    const held = world();
    held.cluster.world.unreadableNamespaces = ['kube-system'];
    // Namespaced RBAC: the worker may not read kube-system's Secrets, but the scan lists its workloads.
    held.cluster.world.workloads.push({ kind: 'Deployment', namespace: 'kube-system', name: 'metrics-agent', replicas: 1, refs: { [ENV_FROM]: OLD } });
    const [kept] = await rotate(new Doubles({ ...held, previousIssued: true }), [planOver(['staging'])]);
    assert.equal(kept.phase, 'COMPLETED', kept.outcome ?? '');
    assert.equal(credential(held, OLD), 'active');
    assert.match(
      said(kept),
      new RegExp(`issuer: ${OLD} stays live: where ${OLD} was copied is not recorded on it \\(made by hand or by an older rotor\\).*metrics-agent`),
    );

    const free = world();
    free.cluster.world.unreadableNamespaces = ['kube-system'];
    const [revoked] = await rotate(new Doubles({ ...free, previousIssued: true }), [planOver(['staging'])]);
    assert.equal(revoked.phase, 'COMPLETED', revoked.outcome ?? '');
    assert.equal(credential(free, OLD), 'revoked', 'nothing in the whole cluster names it: its credential goes');
  });
});

describe('two rotations that chose the same version name', () => {
  it('get a credential each, and rolling one back leaves the other running on its own', async () => {
    // Same base name, other namespaces, started together: the same second, so the same version name.
    for (let attempt = 1; ; attempt++) {
      const w = world();
      const d = new Doubles({ ...w, previousIssued: true, check: (input) => (input.stage === 'staging' ? 'failed' : 'passed') });
      const [staging, production] = await rotate(d, [planOver(['staging']), planOver(['qa'])]);
      assert.equal(staging.phase, 'ROLLED_BACK', said(staging));
      assert.equal(production.phase, 'COMPLETED', production.outcome ?? '');
      if (staging.newVersion !== production.newVersion && attempt < 4) continue; // a second boundary fell between them: again
      assert.equal(staging.newVersion, production.newVersion, 'both chose the same version name');
      assert.notEqual(staging.newCredential, production.newCredential, 'two credentials');
      assert.equal(credential(w, staging.newCredential), 'revoked', "the rolled-back rotation's credential is revoked");
      assert.equal(credential(w, production.newCredential), 'active', "and the other's is untouched");
      // Production's Secret holds its own rotation's token, which the issuer still accepts.
      const copy = w.cluster.world.secrets.find((s) => s.namespace === 'qa' && s.name === production.newVersion)!;
      assert.ok(copy.data.api_token.startsWith(`${production.newCredential}.`));
      return;
    }
  });
});

describe('claims of two rotor deployments on one cluster', () => {
  it("never takes over another deployment's claim, nor one an older rotor wrote that this server cannot vouch for", async () => {
    const w = world();
    // Deployment A's rotation holds staging; deployment B's server has never heard of it.
    w.cluster.world.claims = {
      [`staging/${SECRET}`]: { holder: 'temporal://deployment-a/default/rotate-staging-auth-api-secrets', since: '2026-12-01T00:00:00.000Z' },
    };
    const [fromB] = await rotate(new Doubles({ ...w, deployment: 'deployment-b' }), [planOver(['staging'])]);
    assert.equal(fromB.phase, 'FAILED');
    assert.match(
      fromB.outcome!,
      /in progress in staging \(rotate-staging-auth-api-secrets of another rotor deployment \(Temporal cluster deployment-a, namespace default\)/,
    );
    assert.equal(w.cluster.world.claims[`staging/${SECRET}`].holder, 'temporal://deployment-a/default/rotate-staging-auth-api-secrets', 'untouched');
    // An older release's holder names no deployment: a workflow id this server does not know is not proof it ended.
    w.cluster.world.claims = { [`staging/${SECRET}`]: { holder: 'default/rotate-staging-auth-api-secrets', since: '2026-12-01T00:00:00.000Z' } };
    const [again] = await rotate(new Doubles({ ...w, deployment: 'deployment-b' }), [planOver(['staging'])]);
    assert.equal(again.phase, 'FAILED');
    assert.match(again.outcome!, /claimed by an older rotor in Temporal namespace default.*kubectl delete lease rotor-auth-api-secrets -n <namespace>/);
    assert.equal(w.cluster.world.claims[`staging/${SECRET}`].holder, 'default/rotate-staging-auth-api-secrets');
    assert.deepEqual(
      [...new Set(w.cluster.world.secrets.map((s) => s.name))],
      [`${SECRET}-20250101000000`],
      'nothing was created: only the version in use, which the world seeds on first read',
    );
  });

  it("takes over an older rotor's claim when this server ran that workflow and the claim was made while it ran", async () => {
    const w = world();
    // A rotation this server ran and that has ended (refused at once: an invalid plan) without releasing anything.
    const [gone] = await rotate(new Doubles(w), [{}]);
    assert.equal(gone.phase, 'FAILED');
    const described = await env.client.workflow.getHandle(gone.workflowId).describe();
    const during = new Date((described.startTime.getTime() + described.closeTime!.getTime()) / 2).toISOString();
    // As an older release wrote it: no deployment in the holder, claimed while that workflow ran.
    w.cluster.world.claims = { [`staging/${SECRET}`]: { holder: `default/${gone.workflowId}`, since: during } };
    const [next] = await rotate(new Doubles({ ...w, previousIssued: true }), [planOver(['staging'])]);
    assert.notEqual(next.phase, 'FAILED', next.outcome ?? '');
    assert.match(said(next), /claimed the rotation of auth-api-secrets in staging as temporal:\/\/deployment-a\/default\/rotate-ids-/);
  });
});

// Seeded, randomized: several rotations over overlapping sets of namespaces, some started together (the
// same second), on workers of two deployments sharing one cluster and issuer, each rolled back or not
// at random, with holders of the old versions placed at random. Whatever happens, at the moment of
// every revocation (the issuer's own hook) no workload in any namespace refers to a Secret holding that
// credential, and the credential each namespace runs on at the end is live.
const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;

describe('identities, seeded and randomized', () => {
  it('never revokes a credential any namespace still runs on, over overlapping plans, same-second starts and two deployments', async () => {
    console.log(`[workflow-identities] seed ${SEED} (ROTOR_SEED=${SEED} replays it)`);
    const namespaces = fc.subarray(['staging', 'qa', 'web'], { minLength: 1 });
    const round = fc.array(fc.record({ over: namespaces, fails: fc.boolean(), deployment: fc.constantFrom('deployment-a', 'deployment-b') }), {
      minLength: 1,
      maxLength: 2,
    });
    await fc.assert(
      fc.asyncProperty(fc.array(round, { minLength: 2, maxLength: 3 }), async (rounds) => {
        const w = world();
        const violations: string[] = [];
        w.issuer = new MemoryCredentialIssuer({
          mode: 'overlapping',
          maxLive: 100,
          onToken: (token, state) => {
            if (state !== 'revoked') return;
            for (const s of w.cluster.world.secrets.filter((x) => x.data.api_token === token)) {
              const users = w.cluster.world.workloads.filter((u) => u.namespace === s.namespace && Object.values(u.refs).includes(s.name));
              if (users.length) violations.push(`${versionOfCredential(token.slice(0, token.lastIndexOf('.')))} revoked while ${s.namespace} runs on it`);
            }
          },
        });
        // Every namespace starts on the same old version, issued once (one credential, three copies).
        const old = await w.issuer.issue({ id: OLD });
        for (const ns of ['staging', 'qa', 'web']) {
          w.cluster.world.secrets.push({ namespace: ns, name: OLD, data: { api_token: old.token }, immutable: true });
          w.cluster.world.workloads.push({ kind: 'Deployment', namespace: ns, name: 'auth-api', replicas: 2, refs: { [ENV_FROM]: OLD } });
        }
        for (const r of rounds) {
          // Rotations of one round start together; those of one deployment share a worker.
          const byDeployment = new Map<string, typeof r>();
          for (const x of r) byDeployment.set(x.deployment, [...(byDeployment.get(x.deployment) ?? []), x]);
          const fails = new Set(r.filter((x) => x.fails).flatMap((x) => x.over));
          const script = (deployment: string): Script =>
            reuse(w, { deployment, check: (input) => (fails.has(input.namespace ?? input.stage) ? 'failed' : 'passed') });
          await Promise.all(
            [...byDeployment].map(([deployment, xs]) =>
              rotate(
                new Doubles(script(deployment)),
                xs.map((x) => planOver(x.over)),
              ),
            ),
          );
        }
        assert.deepEqual(violations, []);
        // What each namespace runs on now holds a live credential.
        for (const u of w.cluster.world.workloads.filter((x) => x.name === 'auth-api')) {
          const name = Object.values(u.refs)[0];
          const s = w.cluster.world.secrets.find((x) => x.namespace === u.namespace && x.name === name);
          assert.ok(s, `${u.namespace} runs on ${name}, which exists`);
          const id = s.data.api_token.slice(0, s.data.api_token.lastIndexOf('.'));
          assert.equal(credential(w, id), 'active', `${u.namespace} runs on ${id}, which is live`);
        }
      }),
      { seed: SEED, numRuns: 4, endOnFailure: true },
    );
  });
});
