// docker-compose.yml, the Dockerfile and the examples are complete and consistent (no Docker engine
// runs here, so the files are parsed and checked, not run).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadPlanFile } from '../client/plan-file';
import { loadMemoryWorld } from '../activities/memory';
import { repoRoot } from './helpers/tools';

const read = (f: string) => readFileSync(join(repoRoot, f), 'utf8');

describe('deployment files', () => {
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, any>; volumes?: Record<string, unknown> };

  it('compose runs Temporal, its UI, its database and the worker, every image pinned to a version', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['postgresql', 'rotor-worker', 'temporal', 'temporal-ui']);
    for (const [name, svc] of Object.entries(compose.services)) {
      // Our own image is built here; every other one names a release, so a compose up next year runs the same thing.
      if (svc.build) continue;
      assert.match(String(svc.image), /^[a-z0-9./-]+:\d+(\.\d+)*(-[a-z]+)?$/, `${name} pins its image (${svc.image})`);
    }
    assert.deepEqual(compose.services.temporal.ports, ['7233:7233']);
    assert.deepEqual(compose.services['temporal-ui'].ports, ['8080:8080']);
  });

  it('compose wires the worker to Temporal, after Temporal, and builds it from the Dockerfile', () => {
    const worker = compose.services['rotor-worker'];
    assert.equal(worker.build, '.');
    // The tag it builds is the one the chart and deploy/worker.yaml run: rotor's release.
    const appVersion = (parse(read('deploy/helm/rotor/Chart.yaml')) as { appVersion: string }).appVersion;
    assert.equal(worker.image, `rotor:${appVersion}`);
    assert.equal(worker.environment.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.deepEqual(worker.depends_on, ['temporal']);
    assert.equal(compose.services['temporal-ui'].environment.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(compose.services.temporal.environment.POSTGRES_SEEDS, 'postgresql');
    assert.equal(compose.services.temporal.depends_on.postgresql.condition, 'service_healthy');
    for (const svc of Object.values(compose.services)) {
      for (const vol of svc.volumes ?? []) {
        const source = String(vol).split(':')[0];
        if (!source.startsWith('.') && !source.startsWith('$')) assert.ok(compose.volumes && source in compose.volumes, `named volume ${source} is declared`);
      }
    }
  });

  it('the worker deployment encrypts with codec keys from a Secret mounted readable by its group only', () => {
    const deployment = parse(read('deploy/worker.yaml')) as any;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const file = container.env.find((e: { name: string }) => e.name === 'ROTOR_CODEC_KEYS_FILE')?.value as string;
    const mount = container.volumeMounts.find((m: { mountPath: string }) => file?.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `the key file ${file} is on a mounted volume`);
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    assert.equal(volume.secret.secretName, 'rotor-codec-keys');
    // The loader refuses a world-readable key file; the group (fsGroup) may read it, others not.
    assert.equal(volume.secret.defaultMode, 0o440, `mode ${volume.secret.defaultMode.toString(8)}: owner and group read, others nothing`);
    assert.equal(pod.securityContext.fsGroup, pod.securityContext.runAsUser);
  });

  it('the worker deployment upgrades with both workers polling a while, and runs without privileges', () => {
    const deployment = parse(read('deploy/worker.yaml')) as any;
    // docs/lifecycle.md#upgrades: the new worker starts before the old one stops, and only stops it once it has run a while.
    assert.deepEqual(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    assert.ok(deployment.spec.minReadySeconds > 0, `minReadySeconds ${deployment.spec.minReadySeconds}`);
    const pod = deployment.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.deepEqual(pod.containers[0].securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true });
  });

  it('the Dockerfile builds the worker image that runs `rotor worker`', () => {
    const dockerfile = read('Dockerfile');
    assert.match(dockerfile, /^FROM node:20-bookworm-slim AS build$/m);
    assert.match(dockerfile, /RUN npm ci/);
    assert.match(dockerfile, /ENTRYPOINT \["node", "bin\/rotor\.js"\]/);
    assert.match(dockerfile, /CMD \["worker"\]/);
    // Everything tsconfig.json compiles must be in the build stage, or `tsc` fails there.
    const tsconfig = JSON.parse(read('tsconfig.json')) as { include: string[] };
    for (const dir of tsconfig.include) assert.match(dockerfile, new RegExp(`COPY ${dir} ${dir}`), `Dockerfile copies ${dir}/`);
  });

  it('the example plan is valid and its world answers every query it asks', () => {
    const { plan } = loadPlanFile(join(repoRoot, 'examples', 'plan.yaml'));
    const world = loadMemoryWorld(join(repoRoot, 'examples', 'world.json'));
    for (const stage of plan.stages) {
      assert.ok(stage.analysis, `${stage.name} has an analysis`);
      assert.equal(typeof world.metrics?.[stage.analysis!.query], 'number', `world has a value for ${stage.analysis!.query}`);
    }
    assert.equal(plan.stages.at(-1)!.approval, 'required');
  });
});
