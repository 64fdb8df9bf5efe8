// The demo's acts c2 and c3 end to end, on the demo's own world (sandbox/demo-world.ts, without Git):
// the wrong-scope token of act c, now tested before any pod gets it, by an HTTP pre-flight call to the
// auth API (c2) and by a pre-flight Job whose pod reads the version through envFrom and calls it (c3,
// run by the pod simulator's rotor.dev/sandbox/check, as the worker's ServiceAccount under
// `rotor rbac --admission`). Held against the auth API's own counts: 0 failed requests, nothing
// switched, the credential revoked, the Job deleted. (A file of its own: with them, the demo's file
// would come near the runner's per-file limit.)
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { after, before, describe, it } from 'node:test';
import { actPreflight, FIRST_VERSION, seedVersioned, table, type ActResult, type DemoDurations } from '../sandbox/demo-acts';
import { startDemoWorld, type DemoWorld } from '../sandbox/demo-world';
import { recordDemoWorld } from './helpers/leak';

const FAST: DemoDurations = { soak: '10s', pause: '10s', watch: '10s', retention: '5s', interval: '10s' };

let world: DemoWorld;
const lines: string[] = [];
const say = (line: string) => lines.push(line);

before(async () => {
  world = await startDemoWorld({ readyDelayMs: 1000 });
  await seedVersioned(world, say);
});

after(async () => {
  if (world) {
    await recordDemoWorld(world, lines, 'demo (pre-flight acts)');
  }
  await world?.stop();
});

describe('npm run demo, acts c2 and c3: a bad token stopped by pre-flight checks', () => {
  const results: ActResult[] = [];

  for (const kind of ['http', 'job'] as const) {
    const act = kind === 'http' ? 'c2' : 'c3';
    it(`${act}) the same bad token stopped by a${kind === 'http' ? 'n HTTP' : ' Job'} pre-flight check: 0 failed requests, nothing switched, the credential revoked`, async () => {
      const good = FIRST_VERSION;
      const verifiedBefore = world.traffic.api.verifications.refused;
      const r = await actPreflight(world, say, kind, FAST);
      results.push(r);
      const status = r.status!;
      assert.equal(status.phase, 'ROLLED_BACK', `${status.outcome}; left: ${status.leftovers.join('; ')}`);
      assert.match(
        status.outcome!,
        kind === 'http'
          ? /^rolled back: pre-flight check verify-token in staging failed: HTTP 403 from POST http:\/\/127\.0\.0\.1:\d+\/v1\/verify\?env=staging \(expected 200\): \{"error":"insufficient_scope","env":"staging"\}$/
          : /^rolled back: pre-flight check verify-in-pod in staging failed: Job rotor-preflight-[0-9a-f]{12} failed: its container exited 1 \(Error\)$/,
      );
      assert.equal(world.traffic.api.verifications.refused, verifiedBefore + 1, 'the auth API refused the token once, to the check');
      if (kind === 'job') {
        const logs = status.events.find((e) => e.message.startsWith('pre-flight verify-in-pod logs:'));
        assert.match(logs?.message ?? '', /HTTP 403 .*insufficient_scope/, "the pod's last lines, from its termination message");
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(world.sandbox.plane.kubeconfig);
        const jobs = await kc.makeApiClient(k8s.BatchV1Api).listNamespacedJob({ namespace: 'staging' });
        assert.deepEqual(
          jobs.items.filter((j) => j.metadata!.name!.startsWith('rotor-preflight-') && !j.metadata!.deletionTimestamp).map((j) => j.metadata!.name),
          [],
          'the pre-flight Job is deleted',
        );
      }
      assert.equal(r.failed, 0, 'no request failed (Prometheus)');
      assert.equal(r.counted.failed, 0, 'no request failed (the auth API)');
      assert.ok(r.requests > 0 && r.counted.requests > 0);
      assert.equal(status.switched.length, 0);
      assert.ok(!status.events.some((e) => e.message.startsWith('switched')), 'nothing was switched');
      assert.equal(world.traffic.api.issued().find((x) => x.id === status.newCredential)?.state, 'revoked');
      assert.ok(
        world.traffic.model
          .running()
          .filter((p) => p.namespace !== 'inplace')
          .every((p) => p.version === good),
      );
      assert.ok(r.createdToRolledBackMs! > 0);
      assert.match(table(results), new RegExp(`\\| ${act}\\) rotor, bad token, ${kind === 'http' ? 'HTTP' : 'Job'} pre-flight \\| \\d+ \\| 0 \\| 0 \\|`));
    });
  }
});
