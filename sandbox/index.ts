// The local world for tests and the demo: a real control plane plus the pod simulator.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { kubeconfigYaml, startControlPlane, type ControlPlane, type ControlPlaneOptions } from './control-plane';
import { repoRoot } from './tools';
import { PodSimulator, type SimulatorOptions } from './pod-simulator';

export interface Sandbox {
  plane: ControlPlane;
  simulator: PodSimulator;
  stop(): Promise<void>;
}

export async function startSandbox(options: ControlPlaneOptions & Omit<SimulatorOptions, 'kubeconfig'> = {}): Promise<Sandbox> {
  const plane = await startControlPlane(options);
  const simulator = new PodSimulator({ ...options, kubeconfig: plane.simulatorKubeconfig });
  try {
    await simulator.start();
  } catch (err) {
    await plane.stop();
    throw err;
  }
  return {
    plane,
    simulator,
    /** The simulator, then the control plane: controller-manager, apiserver, etcd. */
    async stop() {
      options.log?.('stopping the pod simulator ...');
      await simulator.stop();
      await plane.stop();
    },
  };
}

/**
 * The worker's least-privilege identity: deploy/rbac.yaml applied with kubectl, a token for its
 * ServiceAccount, and a kubeconfig using it (written to `<dir>/worker.kubeconfig`).
 */
export async function workerKubeconfig(plane: ControlPlane, dir: string): Promise<string> {
  await promisify(execFile)(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, 'apply', '-f', join(repoRoot, 'deploy', 'rbac.yaml')]);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const body = { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 7200 } };
  for (let attempt = 0; ; attempt++) {
    try {
      const token = (await core.createNamespacedServiceAccountToken({ namespace: 'rotor-system', name: 'rotor-worker', body })).status!.token;
      const file = join(dir, 'worker.kubeconfig');
      writeFileSync(file, kubeconfigYaml(plane.server, plane.caFile, { name: 'rotor-worker', token }));
      return file;
    } catch (err) {
      if (attempt >= 50) throw err; // the ServiceAccount appears moments after `kubectl apply`
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export { startControlPlane, PodSimulator };
