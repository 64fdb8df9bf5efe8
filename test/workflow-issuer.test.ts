// The credential's life at its issuer, on the real time-skipping server with activity doubles over
// the memory cluster and the memory issuer (the rules the sandbox's auth API serves over HTTP): issued
// inside CREATING, revoked on rollback once nothing refers to it, the previous one revoked only after
// its guarded delete, every call an event in status, and a revoke that keeps failing left to the
// operator by name, never dropped.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryCluster } from '../activities/memory';
import { describe, it } from 'node:test';
import { MemoryCredentialIssuer } from '../activities/issuers/memory';
import { versionOfCredential } from '../domain/naming';
import type { RotationStatus } from '../contract/api';
import { timeSkippingRotations } from './helpers/rotations';
import { twoStagePlan } from './helpers/plans';

const { run } = timeSkippingRotations('issuer');
const OLD = 'auth-api-secrets-20250101000000';
const issuerPlan = (overrides: Parameters<typeof twoStagePlan>[0] = {}) =>
  twoStagePlan({ ...overrides, top: { value: { issuer: { key: 'api_token', scope: 'auth:verify' } }, ...overrides.top } });

const messages = (s: RotationStatus) => s.events.map((e) => e.message);

describe('rotateSecret with a credential issuer', () => {
  it('issues the new credential into the versioned Secret, and revokes the previous one only after its guarded delete', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const { d, status } = await run({ issuer, previousIssued: true }, issuerPlan());
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    const fresh = status.newVersion!;
    // The credential's id is the version's name and this rotation's own tag: no other rotation shares it.
    const freshId = status.newCredential!;
    assert.match(freshId, new RegExp(`^${fresh}\\.[0-9a-f]{12}$`));
    // The Secret holds the issuer's token for that id, and the token is valid at the issuer.
    for (const ns of ['staging', 'production']) {
      const secret = d.cluster.world.secrets.find((s) => s.namespace === ns && s.name === fresh)!;
      assert.match(secret.data.api_token, new RegExp(`^${freshId}\\.`), 'the issued token (tokens carry their id in the memory issuer)');
      assert.equal(secret.annotations?.['rotor.dev/credential-id'], freshId, 'the copy records its credential');
      assert.equal(secret.annotations?.['rotor.dev/copies'], 'production,staging', 'and where its copies are');
    }
    assert.deepEqual(
      issuer.issued().map((c) => [c.id, c.state]),
      [
        [OLD, 'revoked'],
        [freshId, 'active'],
      ],
    );
    // Deletion first, in every namespace at once; the revoke after it, never before.
    assert.deepEqual(d.callOrder(['createVersion', 'deleteVersion', 'revokeCredential']), [
      `createVersion:${fresh}`,
      `deleteVersion:${OLD}`,
      `revokeCredential:${OLD}`,
    ]);
    assert.deepEqual(d.called('inspectCredentials'), [{ ids: [OLD] }]);
    const said = messages(status);
    assert.ok(
      said.some((m) => m.startsWith(`issuer: ${OLD} is live`)),
      said.join('\n'),
    );
    assert.ok(said.some((m) => m === `issuer: issued ${freshId} (scope auth:verify); the previous credential stays valid`));
    assert.ok(said.some((m) => m.startsWith(`issuer: revoked ${OLD} after its guarded delete`)));
    assert.match(status.outcome!, new RegExp(`${OLD} revoked at the issuer`));
    // No token in the status: the value never left the activity.
    assert.ok(!JSON.stringify(status).includes(d.cluster.world.secrets.find((s) => s.name === fresh)!.data.api_token));
  });

  it('keeps the previous credential while a workload still refers to it, and revokes it once the version is deleted', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const cron = { kind: 'CronJob' as const, namespace: 'staging', name: 'nightly-report', fields: ['volumes[data].secret.secretName'] };
    const { d, status } = await run({ issuer, previousIssued: true, holders: [[cron], [cron], []] }, issuerPlan({ top: { cleanupRecheck: '1h' } }));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    const calls = d.callOrder(['scanReferences', 'deleteVersion', 'revokeCredential']).filter((c) => c !== 'scanReferences');
    assert.deepEqual(calls, [`deleteVersion:${OLD}`, `revokeCredential:${OLD}`], 'one delete, then the revoke: none while the CronJob held it');
    assert.ok(d.called('scanReferences').length >= 3);
    assert.equal(issuer.issued().find((c) => c.id === OLD)?.state, 'revoked');
  });

  it('says so when the previous version was not issued by the issuer, and revokes nothing it did not issue', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const { d, status } = await run({ issuer }, issuerPlan());
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    const said = messages(status);
    assert.ok(
      said.some((m) => m.startsWith(`issuer: ${OLD} was not issued by the issuer; rotor will not revoke it there`)),
      said.join('\n'),
    );
    assert.ok(said.includes(`issuer: ${OLD} was not issued by the issuer; nothing to revoke there`));
    assert.deepEqual(
      issuer.issued().map((c) => [c.id, c.state]),
      [[status.newCredential, 'active']],
    );
    assert.doesNotMatch(status.outcome!, /revoked at the issuer/);
    assert.equal(d.called('revokeCredential').length, 1);
  });

  it('revokes the new credential when staging rolls back, after the workloads are back, and keeps the previous one live', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const { d, status } = await run({ issuer, previousIssued: true, check: (input) => (input.stage === 'staging' ? 'failed' : 'passed') }, issuerPlan());
    assert.equal(status.phase, 'ROLLED_BACK', status.outcome ?? '');
    const fresh = status.newVersion!;
    const freshId = status.newCredential!;
    assert.deepEqual(d.callOrder(['revertWorkloads', 'finalizeVersion', 'scanReferences', 'revokeCredential']), [
      'revertWorkloads',
      `finalizeVersion:${fresh}`,
      'scanReferences',
      `revokeCredential:${freshId}`,
    ]);
    assert.deepEqual(d.called('scanReferences')[0], { secretName: fresh, namespaces: ['staging', 'production'] });
    assert.deepEqual(
      issuer.issued().map((c) => [c.id, c.state]),
      [
        [OLD, 'active'],
        [freshId, 'revoked'],
      ],
    );
    assert.ok(messages(status).includes(`issuer: revoked ${freshId} (rollback)`));
    assert.equal(d.called('switchWorkloads').filter((i) => i.namespace === 'production').length, 0, 'production never touched');
  });

  it('does not revoke a rolled-back credential something still refers to: the leftover says who, and how to finish', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const job = { kind: 'Job' as const, namespace: 'production', name: 'migrate', fields: ['volumes[data].secret.secretName'] };
    const { status } = await run({ issuer, holders: [[job]], check: () => 'failed' }, issuerPlan());
    assert.equal(status.phase, 'FAILED');
    const fresh = status.newCredential!;
    assert.equal(issuer.issued().find((c) => c.id === fresh)?.state, 'active');
    assert.ok(
      status.leftovers.some(
        (l) => l.includes(`issuer: ${fresh} is still live: Job/migrate in production still refer to it`) && l.includes(`/v1/credentials/${fresh}/revoke`),
      ),
      status.leftovers.join('\n'),
    );
  });

  it('waits for pods still shutting down on the rolled-back credential, then revokes it', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const pod = { kind: 'Pod' as const, namespace: 'staging', name: 'auth-api-7d9f-x2', fields: ['volumes[data].secret.secretName'] };
    const { d, status } = await run({ issuer, holders: [[pod], [pod], []], check: () => 'failed' }, issuerPlan());
    assert.equal(status.phase, 'ROLLED_BACK', status.leftovers.join('; '));
    assert.equal(d.called('scanReferences').length, 3);
    assert.equal(issuer.issued().find((c) => c.id === status.newCredential)?.state, 'revoked');
    assert.equal(status.events.filter((e) => e.message.includes('is still referred to by Pod/auth-api-7d9f-x2 in staging; scanning again in 10s')).length, 2);
  });

  it('reports a rolled-back credential the issuer would not revoke as what is left to do by hand, with the workloads back', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const { d, status } = await run({ issuer, revokeFails: 1_000, check: () => 'failed' }, issuerPlan());
    assert.equal(status.phase, 'FAILED');
    const fresh = status.newCredential!;
    assert.equal(d.called('revokeCredential').length, 8, "one activity's retries, then the leftover");
    assert.ok(
      status.leftovers.some((l) => l.startsWith(`issuer: could not revoke ${fresh} (cannot reach the issuer`) && l.includes(`/v1/credentials/${fresh}/revoke`)),
      status.leftovers.join('\n'),
    );
    assert.equal(
      d.workload('staging', 'auth-api')!.refs[Object.keys(d.workload('staging', 'auth-api')!.refs)[0]],
      OLD,
      'staging is back on the previous version',
    );
    assert.equal(issuer.issued().find((c) => c.id === fresh)?.state, 'active');
  });

  it('retries a revoke the issuer does not answer at the next cleanup round, and completes once it answers', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    // Eight failed attempts are one activity's retries: the first round fails, the second revokes.
    const { d, status } = await run({ issuer, previousIssued: true, revokeFails: 8 }, issuerPlan({ top: { cleanupRecheck: '1h' } }));
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    assert.equal(d.called('revokeCredential').length, 9);
    assert.equal(d.called('deleteVersion').length, 1, 'the version is deleted once; only the revoke is retried');
    assert.ok(messages(status).some((m) => /^cleanup round failed \(cannot reach the issuer to revoke the credential auth-api-secrets-20250101000000/.test(m)));
    assert.equal(issuer.issued().find((c) => c.id === OLD)?.state, 'revoked');
    assert.deepEqual(status.revokePending, []);
  });

  it('ends FAILED naming the credential to revoke by hand when the issuer never answers', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const { status } = await run({ issuer, previousIssued: true, revokeFails: 1_000 }, issuerPlan({ top: { cleanupRecheck: '1h' } }));
    assert.equal(status.phase, 'FAILED');
    assert.deepEqual(status.revokePending, [OLD]);
    assert.ok(
      status.leftovers.some(
        (l) =>
          l ===
          `issuer: ${OLD} is deleted in the cluster but still live at the issuer; revoke it at the issuer by hand: POST $ROTOR_ISSUER_URL/v1/credentials/${OLD}/revoke (docs/issuer-protocol.md)`,
      ),
      status.leftovers.join('\n'),
    );
    assert.equal(issuer.issued().find((c) => c.id === OLD)?.state, 'active');
  });

  it('refuses in PLANNING, before anything is created, a plan naming an issuer on a worker without one', async () => {
    const { d, status } = await run({ issuer: null }, issuerPlan());
    assert.equal(status.phase, 'FAILED');
    assert.match(status.outcome!, /the credential issuer cannot be used \(nothing was changed\): .*set ROTOR_ISSUER_URL and ROTOR_ISSUER_TOKEN on the worker/);
    assert.equal(d.called('createVersion').length, 0);
    assert.equal(d.called('switchWorkloads').length, 0);
  });

  it('makes no issuer call for a plan whose value does not come from the issuer', async () => {
    const issuer = new MemoryCredentialIssuer({ mode: 'overlapping' });
    const { d, status } = await run({ issuer, check: () => 'failed' }, twoStagePlan());
    assert.equal(status.phase, 'ROLLED_BACK');
    assert.equal(d.called('inspectCredentials').length + d.called('revokeCredential').length, 0);
    assert.deepEqual(issuer.issued(), []);
  });
});

// Seeded, randomized: others' workloads holding a version at random scans, an issuer that fails a
// random number of revokes, a rollback at a random stage or none. Whatever happens:
// - no credential is revoked while anything in the world refers to its version (checked at the
//   moment of revocation, on the issuer's own hook);
// - every credential still live at the end that should go (the previous one after a completed
//   cleanup, the new one after a rollback) is named in the leftovers or still awaited, never dropped;
// - the credential in use at the end is live.
// The seed is printed; ROTOR_SEED=<seed> replays it.
const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;

describe('issuer revocations, seeded and randomized', () => {
  it('never revokes a credential something refers to, and never drops one it should revoke', async () => {
    console.log(`[workflow-issuer] seed ${SEED} (ROTOR_SEED=${SEED} replays it)`);
    const holder = fc.record({
      kind: fc.constantFrom('CronJob' as const, 'Job' as const, 'Pod' as const),
      namespace: fc.constantFrom('staging', 'production'),
      name: fc.constantFrom('report', 'migrate'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          failAt: fc.constantFrom(null, 'staging', 'production'),
          holders: fc.array(fc.array(holder, { maxLength: 2 }), { maxLength: 4 }),
          revokeFails: fc.nat({ max: 10 }),
          previousIssued: fc.boolean(),
        }),
        async ({ failAt, holders, revokeFails, previousIssued }) => {
          const cluster = new MemoryCluster({ secrets: [], workloads: [] });
          const violations: string[] = [];
          const issuer = new MemoryCredentialIssuer({
            mode: 'overlapping',
            onToken: (token, state) => {
              if (state !== 'revoked') return;
              const id = versionOfCredential(token.slice(0, token.lastIndexOf('.')));
              const users = cluster.world.workloads.filter((w) => Object.values(w.refs).includes(id));
              if (users.length) violations.push(`${id} revoked while ${users.map((w) => `${w.kind}/${w.name}`).join(', ')} refer to it`);
            },
          });
          const script = {
            cluster,
            issuer,
            previousIssued,
            revokeFails,
            // Others let go in the end (the last scan's holders repeat): cleanup can finish.
            holders: [...holders, []].map((hs) => hs.map((h) => ({ ...h, fields: ['volumes[data].secret.secretName'] }))),
            check: (i: { stage: string }) => (i.stage === failAt ? ('failed' as const) : ('passed' as const)),
          };
          const { status } = await run(script, issuerPlan({ top: { cleanupRecheck: '1h' } }));
          assert.deepEqual(violations, []);
          const state = (id: string | null) => issuer.issued().find((c) => c.id === id)?.state;
          const named = (id: string) => status.leftovers.some((l) => l.includes(id)) || status.revokePending.includes(id);
          const fresh = status.newCredential ?? null;
          if (status.phase === 'COMPLETED') {
            assert.equal(state(fresh), 'active', 'the credential in use is live');
            if (previousIssued) assert.equal(state(OLD), 'revoked');
          } else if (status.phase === 'ROLLED_BACK') {
            assert.equal(state(fresh), 'revoked');
            if (previousIssued) assert.equal(state(OLD), 'active', 'the credential in use is live');
          } else {
            assert.equal(status.phase, 'FAILED', status.outcome ?? '');
            // What should have been revoked and was not is named for the operator.
            if (fresh && status.switched.length === 0 && state(fresh) === 'active' && failAt) assert.ok(named(fresh), status.leftovers.join('; '));
            if (previousIssued && state(OLD) === 'active' && !failAt) assert.ok(named(OLD) || status.cleaned.length === 0, status.leftovers.join('; '));
          }
        },
      ),
      { seed: SEED, numRuns: 8, endOnFailure: true },
    );
  });
});
