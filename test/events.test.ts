// Kubernetes Events, below the workflow: their names (seeded, randomized: one per rotation, reason,
// object and step, the same on every retry, each a name the apiserver takes), and the recorder's
// promise that a failure to post never fails or holds up a step, and is logged once per cause.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createActivities } from '../activities';
import { RotorError } from '../activities/errors';
import { EventRecorder, eventName, revertEvents, switchEvents, type EventDraft } from '../activities/events';
import { MemoryCluster } from '../activities/memory';
import type { ClusterEvent, ClusterPort } from '../activities/ports';
import type { SwitchRecord } from '../contract/activities';

const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const REASONS = ['SecretVersionSwitched', 'CanaryStep', 'RolledBack', 'SecretVersionDeleted', 'CleanupWaiting', 'CredentialRevoked'] as const;
const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Secret'] as const;

const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
const objectName = fc.oneof(dnsLabel, fc.stringMatching(/^[a-z0-9][-a-z0-9.]{0,250}[a-z0-9]$/));
/** What makes an Event one: the rotation, the reason, the object, and its step (versions, weight, holder). */
const identity = fc.record({
  rotation: fc.oneof(fc.constant(''), fc.string({ maxLength: 80 })),
  reason: fc.constantFrom(...REASONS),
  namespace: dnsLabel,
  kind: fc.constantFrom(...KINDS),
  name: objectName,
  key: fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 }),
});
type Identity = typeof identity extends fc.Arbitrary<infer T> ? T : never;

const nameOf = (i: Identity) =>
  eventName(i.rotation, { namespace: i.namespace, reason: i.reason, key: i.key, regarding: { apiVersion: 'v1', kind: i.kind, name: i.name } });
const identityKey = (i: Identity) => JSON.stringify([i.rotation, i.reason, i.namespace, i.kind, i.name, i.key]);

/** A stand-in cluster whose postEvent answers as told; everything else is never called here. */
function answering(answer: (event: ClusterEvent) => Promise<'created' | 'exists'>): { cluster: ClusterPort; posted: ClusterEvent[] } {
  const posted: ClusterEvent[] = [];
  const cluster = {
    postEvent: (event: ClusterEvent) => {
      posted.push(event);
      return answer(event);
    },
  } as unknown as ClusterPort;
  return { cluster, posted };
}

const draft = (name: string): EventDraft => ({
  namespace: 'shop',
  regarding: { apiVersion: 'apps/v1', kind: 'Deployment', name },
  reason: 'SecretVersionSwitched',
  action: 'Switch',
  type: 'Normal',
  note: 'switched',
  key: ['a', 'b'],
});

describe(`Event names (seed ${SEED}; ROTOR_SEED replays)`, () => {
  it('are one per rotation, reason, object and step, the same every time, and names the apiserver takes', () => {
    fc.assert(
      fc.property(fc.uniqueArray(identity, { minLength: 1, maxLength: 30, selector: identityKey }), (identities) => {
        const names = identities.map(nameOf);
        assert.equal(new Set(names).size, names.length, 'distinct events, distinct names');
        assert.deepEqual(identities.map(nameOf), names, 'a retry names each the same');
        for (const name of names) {
          assert.ok(name.length <= 253, name);
          assert.match(name, DNS_SUBDOMAIN);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("of a stage's switch and revert: one per workload and step, retried or not", () => {
    const record = fc.record({
      kind: fc.constantFrom('Deployment' as const, 'StatefulSet' as const, 'DaemonSet' as const, 'CronJob' as const),
      name: dnsLabel,
      fields: fc.array(fc.constantFrom('containers[app].env[TOKEN].valueFrom.secretKeyRef.name', 'volumes[creds].secret.secretName'), {
        minLength: 1,
        maxLength: 2,
      }),
      weight: fc.option(fc.constantFrom(10, 25, 50, 100), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(record, { minLength: 1, maxLength: 8, selector: (r) => `${r.kind}/${r.name}` }),
        fc.constantFrom('rotate-shop-auth-api-secrets', 'rotate-staging-db'),
        (workloads, rotation) => {
          const from = 'auth-api-secrets-20250101000000';
          const to = 'auth-api-secrets-20261207000000';
          const records: SwitchRecord[] = workloads.map((w) => ({
            namespace: 'shop',
            kind: w.kind,
            name: w.name,
            from,
            to,
            fields: w.fields,
            ...(w.weight && w.kind === 'Deployment'
              ? { canary: { green: `${w.name}-canary-0123abcd`, weightPercent: w.weight, blueReplicas: 1, greenReplicas: 1, originalReplicas: 2 } }
              : {}),
          }));
          const input = { stage: 's', namespace: 'shop', workloads: [], from, to, strategy: 'canary' as const };
          const drafts = [
            ...switchEvents(input, records),
            ...revertEvents({ stage: 's', namespace: 'shop', workloads: [], from: to, to: from, records, reason: 'check failed' }, records),
          ];
          const names = drafts.map((d) => eventName(rotation, d));
          assert.equal(new Set(names).size, names.length, drafts.map((d) => `${d.reason} ${d.regarding.name}`).join(', '));
          const again = [
            ...switchEvents(input, structuredClone(records)),
            ...revertEvents({ stage: 's', namespace: 'shop', workloads: [], from: to, to: from, records, reason: 'check failed' }, records),
          ].map((d) => eventName(rotation, d));
          assert.deepEqual(again, names, 'a retried step posts the same names');
          // Each switched workload: RolledBack once; SecretVersionSwitched unless its canary is below 100%.
          assert.equal(drafts.filter((d) => d.reason === 'RolledBack').length, records.length);
          const moved = records.filter((r) => !r.canary || r.canary.weightPercent === 100).length;
          assert.equal(drafts.filter((d) => d.reason === 'SecretVersionSwitched').length, moved);
          assert.equal(drafts.filter((d) => d.reason === 'CanaryStep').length, records.filter((r) => r.canary).length);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe('the event recorder', () => {
  it('logs a refusal once per cause, never throws, and posts the rest of a step', async () => {
    const logged: string[] = [];
    const { cluster, posted } = answering(async (e) => {
      if (e.regarding.name === 'forbidden')
        throw new RotorError('Forbidden', 'create event shop/x: HTTP 403 Forbidden: events.events.k8s.io is forbidden', 'event', 403);
      if (e.regarding.name === 'broken') throw new RotorError('Unavailable', 'create event shop/x: HTTP 500 InternalError', 'event', 500);
      return e.regarding.name === 'again' ? 'exists' : 'created';
    });
    const recorder = new EventRecorder(cluster, (message, fields) => logged.push(`${message} ${JSON.stringify(fields)}`), 'worker-0');
    for (let step = 0; step < 3; step++) await recorder.post([draft('forbidden'), draft('web'), draft('again'), draft('broken')]);
    assert.equal(posted.length, 12, 'each step posts every Event it has');
    assert.ok(posted.every((e) => e.reportingInstance === 'worker-0'));
    assert.equal(logged.length, 2, logged.join('\n'));
    assert.match(logged[0], /^kubernetes event not posted; the rotation goes on without it \(logged once per cause\) /);
    assert.match(
      logged.find((l) => l.includes('Forbidden 403'))!,
      /"fix":"grant create on events\.events\.k8s\.io/,
    );
    assert.ok(logged.some((l) => l.includes('"cause":"Unavailable 500"')));
  });

  it('gives up on an apiserver that does not answer, once its timeout is over, and says so once', async () => {
    const logged: string[] = [];
    const { cluster } = answering(() => new Promise<never>(() => undefined));
    const recorder = new EventRecorder(cluster, (message, fields) => logged.push(`${message} ${JSON.stringify(fields)}`), 'worker-0', 20);
    await recorder.post([draft('web')]);
    await recorder.post([draft('api')]);
    assert.equal(logged.length, 1);
    assert.match(logged[0], /"cause":"timeout".*"error":"no answer in 0\.02 s"/);
  });

  it('posts at most 50 Events a step', async () => {
    const { cluster, posted } = answering(async () => 'created');
    await new EventRecorder(cluster, () => undefined).post(Array.from({ length: 80 }, (_, i) => draft(`web-${i}`)));
    assert.equal(posted.length, 50);
  });

  it('lets the switch activity succeed where RBAC refuses Events (the memory backend), logging the 403 once', async () => {
    const old = 'auth-api-secrets-20250101000000';
    const cluster = new MemoryCluster({
      secrets: [{ namespace: 'shop', name: old, data: { api_token: 'x' } }],
      workloads: [{ kind: 'Deployment', namespace: 'shop', name: 'web', replicas: 2, refs: { 'containers[app].env[TOKEN].valueFrom.secretKeyRef.name': old } }],
      uncreatable: {
        'events.events.k8s.io': 'events.events.k8s.io is forbidden: User "system:serviceaccount:rotor-system:rotor-worker" cannot create resource "events"',
      },
    });
    const logged: string[] = [];
    const activities = createActivities({ cluster, stores: {}, metrics: {}, log: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`) });
    const { workloads } = await cluster.findCurrentUse('shop', 'auth-api-secrets');
    const input = { stage: 's', namespace: 'shop', workloads, from: old, to: 'auth-api-secrets-20261207000000', strategy: 'rolling' as const };
    const records = await activities.switchWorkloads(input);
    await activities.revertWorkloads({ ...input, from: input.to, to: old, records, reason: 'abort' });
    assert.equal(records.length, 1, 'switched');
    assert.deepEqual(cluster.world.events ?? [], []);
    const refused = logged.filter((l) => l.includes('event not posted'));
    assert.equal(refused.length, 1, refused.join('\n'));
    assert.match(refused[0], /"cause":"Forbidden 403"/);
  });
});
