// What bench/scale stands on, held to account: the worker's slots and cache from ROTOR_WORKER_* (down to
// what the SDK reports of a running worker), one memory cluster shared by several workers over HTTP
// (sandbox/memory-http.ts), and the CPU and memory figures read from /proc.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubernetesCluster } from '../activities/kubernetes';
import { workerConfig, WorkerConfigError } from '../worker/config';
import { serveMemoryWorld } from '../sandbox/memory-http';
import { cpuSeconds, memoryMiB, processTree } from '../sandbox/proc-stats';
import { memoryBackendEnv, secretsWorld, startWorker } from './helpers/cli';
import { freePort, startDevServer } from './helpers/dev-server';
import { samples, scrape } from './helpers/exposition';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('worker settings ROTOR_WORKER_*', () => {
  it('default to 1000 activity slots and the SDK for the rest, and take whole numbers in range', () => {
    assert.deepEqual(workerConfig({}).tuning, { maxActivities: 1000, maxWorkflowTasks: null, cachedWorkflows: null });
    assert.deepEqual(workerConfig({ ROTOR_WORKER_MAX_ACTIVITIES: '250', ROTOR_WORKER_MAX_WORKFLOW_TASKS: '80', ROTOR_WORKER_CACHED_WORKFLOWS: '0' }).tuning, {
      maxActivities: 250,
      maxWorkflowTasks: 80,
      cachedWorkflows: 0,
    });
  });

  it('refuse what is not a count in range, naming the variable, all at once', () => {
    assert.throws(
      () => workerConfig({ ROTOR_WORKER_MAX_ACTIVITIES: '0', ROTOR_WORKER_MAX_WORKFLOW_TASKS: '1', ROTOR_WORKER_CACHED_WORKFLOWS: 'lots' }),
      (err: Error) =>
        err instanceof WorkerConfigError &&
        err.problems.length === 3 &&
        /ROTOR_WORKER_MAX_ACTIVITIES=0 is not a number of activity slots; use a whole number from 1 to 100000/.test(err.message) &&
        /ROTOR_WORKER_MAX_WORKFLOW_TASKS=1 .* from 2 to 10000/.test(err.message) &&
        /ROTOR_WORKER_CACHED_WORKFLOWS=lots is not a workflow cache size/.test(err.message),
    );
  });

  it('reach the running worker: the SDK reports the activity and workflow slots asked for', async () => {
    const server = await startDevServer();
    const { dir, env } = memoryBackendEnv('rotor-worker-scale-', secretsWorld(['a-secrets'], ['staging'], {}), server.address);
    dirs.push(dir);
    const port = await freePort();
    const worker = await startWorker({
      ...env,
      ROTOR_METRICS_ADDR: `127.0.0.1:${port}`,
      ROTOR_WORKER_MAX_ACTIVITIES: '7',
      ROTOR_WORKER_MAX_WORKFLOW_TASKS: '5',
    });
    try {
      const slots = (text: string, type: string) => samples(text, 'temporal_worker_task_slots_available').find((s) => s.labels.worker_type === type)?.value;
      let text = '';
      for (let i = 0; i < 100 && (slots(text, 'ActivityWorker') === undefined || slots(text, 'WorkflowWorker') === undefined); i++) {
        text = await scrape(`http://127.0.0.1:${port}/metrics`);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(slots(text, 'ActivityWorker'), 7);
      assert.equal(slots(text, 'WorkflowWorker'), 5);
    } finally {
      await worker.stop();
      await server.stop();
    }
  });
});

describe('one memory cluster served over HTTP (sandbox/memory-http.ts)', () => {
  it('is shared by every client: what one writes, another reads and finds; every request is counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-memory-http-'));
    dirs.push(dir);
    const since = Date.now() - 1000;
    const served = await serveMemoryWorld(secretsWorld(['billing-secrets'], ['staging', 'production'], {}), dir);
    try {
      const kc = () => {
        const c = new k8s.KubeConfig();
        c.loadFromFile(served.kubeconfig);
        return c;
      };
      // Two workers' clients: one creates a Secret and a Deployment naming it, the other reads and scans.
      const one = kc().makeApiClient(k8s.CoreV1Api);
      await one.createNamespacedSecret({ namespace: 'staging', body: { metadata: { name: 'billing-secrets-20260101000000' }, stringData: { k: 'v' } } });
      const apps = kc().makeApiClient(k8s.AppsV1Api);
      const deployment = await apps.readNamespacedDeployment({ namespace: 'staging', name: 'billing' });
      await apps.replaceNamespacedDeployment({
        namespace: 'staging',
        name: 'billing',
        body: {
          ...deployment,
          spec: {
            ...deployment.spec!,
            template: {
              ...deployment.spec!.template,
              spec: { containers: [{ name: 'app', image: 'x', envFrom: [{ secretRef: { name: 'billing-secrets-20260101000000' } }] }] },
            },
          },
        },
      });
      const other = kc().makeApiClient(k8s.CoreV1Api);
      const read = await other.readNamespacedSecret({ namespace: 'staging', name: 'billing-secrets-20260101000000' });
      assert.equal(Buffer.from(read.data!.k, 'base64').toString(), 'v');
      const holders = await new KubernetesCluster(kc()).findReferences(null, 'billing-secrets-20260101000000');
      assert.deepEqual(
        holders.map((h) => `${h.kind} ${h.namespace}/${h.name}`),
        ['Deployment staging/billing'],
      );
      const by = new Map(served.byResource());
      assert.equal(by.get('POST secrets'), 1);
      assert.equal(by.get('PUT deployments'), 1);
      const total = served.requests();
      assert.ok(total >= 5, `${total} requests counted`);
      assert.equal(
        served.perSecond(since).reduce((a, b) => a + b, 0),
        total,
        'every request falls in a second since the start',
      );
    } finally {
      await served.close();
    }
  });
});

describe('CPU and memory from /proc (sandbox/proc-stats.ts)', () => {
  it("counts a process's descendants and their CPU", async () => {
    // The child spins until it has used 0.3 s of CPU (however loaded the machine), then says so and waits.
    const spin = "while (process.cpuUsage().user < 300000); console.log('spun'); setTimeout(() => {}, 10000)";
    const child = spawn(process.execPath, ['-e', spin], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => child.stdout!.once('data', resolve));
      assert.ok(processTree(process.pid).includes(child.pid!), 'the child is in the tree');
      assert.ok(cpuSeconds(child.pid!) >= 0.29, `the child spun ${cpuSeconds(child.pid!)} s`);
      assert.ok(cpuSeconds(process.pid) >= cpuSeconds(child.pid!), 'the tree includes the child');
      const mem = memoryMiB(process.pid)!;
      assert.ok(mem.rss > 10 && mem.peak >= mem.rss, JSON.stringify(mem));
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(memoryMiB(2 ** 22 + 12345), null, 'no such process');
  });
});
