// Seeded, randomized scenarios on both worlds: 5× as many on memory as on the real apiserver. The
// seed comes from ROTOR_SEED (to replay a failure) or the clock; the test prints it.
import fc from 'fast-check';
import type * as k8s from '@kubernetes/client-node';
import { KubeWorld, MemoryWorld, type World } from './worlds';

export const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;

/** Plays `kubeRuns` scenarios on the apiserver (ROTOR_SCENARIOS overrides) and five times as many on memory. */
export async function onBothWorlds<T>(kc: k8s.KubeConfig, scenario: fc.Arbitrary<T>, play: (w: World, s: T) => Promise<void>, kubeRuns: number): Promise<void> {
  const runs = Number(process.env.ROTOR_SCENARIOS) || kubeRuns;
  for (const [make, numRuns] of [
    [() => new MemoryWorld(), 5 * runs],
    [() => new KubeWorld(kc), runs],
  ] as const) {
    await fc.assert(
      fc.asyncProperty(scenario, (s) => play(make(), s)),
      { seed: SEED, numRuns, endOnFailure: true },
    );
  }
}
