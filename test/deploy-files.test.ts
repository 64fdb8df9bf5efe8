// docker-compose.yml, the Dockerfile and the examples say what README promises (no Docker engine
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
const readme = read('README.md');

describe('deployment files', () => {
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, any>; volumes?: Record<string, unknown> };

  it('compose parses and runs the services README names, with its images and ports', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['postgresql', 'rotor-worker', 'temporal', 'temporal-ui']);
    const expect: Record<string, { image: string; port?: string }> = {
      postgresql: { image: 'postgres:16-alpine' },
      temporal: { image: 'temporalio/auto-setup:1.28.1', port: '7233:7233' },
      'temporal-ui': { image: 'temporalio/ui:2.34.0', port: '8080:8080' },
      'rotor-worker': { image: 'rotor:latest' },
    };
    for (const [name, want] of Object.entries(expect)) {
      const svc = compose.services[name];
      assert.equal(svc.image, want.image, `${name} image`);
      assert.ok(readme.includes(want.image), `README names ${want.image}`);
      if (want.port) {
        assert.deepEqual(svc.ports, [want.port], `${name} ports`);
        assert.ok(readme.includes(want.port.split(':')[0]), `README names port ${want.port}`);
      }
    }
    assert.ok(readme.includes('http://localhost:8080'));
  });

  it('compose wires the worker to Temporal, after Temporal, and builds it from the Dockerfile', () => {
    const worker = compose.services['rotor-worker'];
    assert.equal(worker.build, '.');
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

  it(".ci/run calls exactly README's test command", () => {
    const command = /```sh\n(npm ci && npm test)\n```/.exec(readme)?.[1];
    assert.equal(command, 'npm ci && npm test');
    assert.match(read('.ci/run'), /^npm ci && npm test$/m);
  });
});
