// The randomized invariant suites' frame: a seeded property run on both worlds, on memory (cheap, many
// runs) and on the real apiserver with rotor acting as the worker's ServiceAccount under
// `rotor rbac --scope cluster --admission` (any namespace, as scenarios make their own), confined by its
// admission policy. No shrinking on a real apiserver: the seed and the counterexample are printed as
// found, and what the scenarios covered at the end. ROTOR_SEED replays a seed; ROTOR_SCENARIOS sets
// the apiserver's runs (memory runs five times as many).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import { startSandbox, workerKubeconfig, type Sandbox, type SandboxOptions } from '../../sandbox';
import { KubeWorld, MemoryWorld, type World } from './worlds';

export function invariantSuite<S>(
  o: { tag: string; title: string; defaultRuns: number; sandbox: SandboxOptions; seen: object },
  arbitrary: fc.Arbitrary<S>,
  run: (w: World, scenario: S) => Promise<void>,
): void {
  const kubeRuns = Number(process.env.ROTOR_SCENARIOS) || o.defaultRuns;
  const memoryRuns = 5 * kubeRuns;
  const seed = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;
  let sandbox: Sandbox | undefined;
  let kc: k8s.KubeConfig;
  let worker: string;
  before(async () => {
    sandbox = await startSandbox(o.sandbox);
    kc = new k8s.KubeConfig();
    kc.loadFromFile(sandbox.plane.kubeconfig);
    worker = await workerKubeconfig(sandbox.plane, mkdtempSync(join(tmpdir(), `rotor-${o.tag}-`)), [], 'cluster');
    console.log(`[${o.tag}] seed ${seed}: ${kubeRuns} scenario(s) on the apiserver, ${memoryRuns} on memory (ROTOR_SEED=${seed} replays them)`);
  });
  after(async () => {
    console.log(`[${o.tag}] seed ${seed} covered: ${JSON.stringify(o.seen)}`);
    await sandbox?.stop();
  });
  describe(o.title, () => {
    for (const [label, runs, make] of [
      ['memory', memoryRuns, () => new MemoryWorld()],
      [
        'kubernetes (real apiserver, the worker confined by its admission policy)',
        kubeRuns,
        () => new KubeWorld(kc, { workerKubeconfig: worker, confined: true }),
      ],
    ] as const) {
      it(`${runs} scenarios on ${label}`, async () => {
        try {
          await fc.assert(
            fc.asyncProperty(arbitrary, (scenario) => run(make(), scenario)),
            { seed, numRuns: runs, endOnFailure: true },
          );
        } catch (err) {
          const cause = (err as { cause?: unknown }).cause;
          throw new Error(`${(err as Error).message}\nbroken: ${cause instanceof Error ? cause.message : String(cause)}`);
        }
      });
    }
  });
}

/**
 * `call`, and when the scenario says so `call` again, as a retry after its effect: both must end
 * where one call ends (judged by `snapshot`, everything rotor could have changed).
 */
export async function maybeTwice<T>(retry: boolean, what: string, snapshot: () => Promise<unknown>, call: () => Promise<T>): Promise<T> {
  const first = await call();
  if (!retry) return first;
  const once = await snapshot();
  const again = await call();
  assert.deepEqual(await snapshot(), once, `${what}, retried after its effect, ends where one call ends`);
  return again;
}
