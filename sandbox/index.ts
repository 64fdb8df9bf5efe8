// The local world for tests and the demo: a real control plane plus the pod simulator.
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './control-plane';
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
    async stop() {
      await simulator.stop();
      await plane.stop();
    },
  };
}

export { startControlPlane, PodSimulator };
