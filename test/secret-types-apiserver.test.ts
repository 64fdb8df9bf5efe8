// Seeded, randomized versions of every built-in Secret type (good values and broken ones) created by
// the createVersion activity on the real apiserver and on the memory double: a value that fits its
// type is created in every namespace with exactly that type and data, one that does not is refused
// before anything exists, and both worlds end the same. The seed is printed; ROTOR_SEED=<seed> replays.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type CreateVersionInput, type CreateVersionResult } from '../activities';
import { checkKeyPair } from '../activities/secret-types';
import { dataRefusal, OPAQUE } from '../domain/secret-types';
import { startSandbox, type Sandbox } from '../sandbox';
import { KubeWorld, MemoryWorld, type World } from './helpers/worlds';
import { dockerConfig, HeldValueStore, selfSigned } from './helpers/secret-types';

const SEED = process.env.ROTOR_SEED ? Number(process.env.ROTOR_SEED) : Date.now() % 2_147_483_647;
const RUNS = 30;
const BASE = 'typed-secrets';
const NAMESPACES = ['types-a', 'types-b'];

let sandbox: Sandbox | undefined;
let kc: k8s.KubeConfig;

before(async () => {
  sandbox = await startSandbox({ readyDelayMs: 200 });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(sandbox.plane.kubeconfig);
  console.log(`[secret-types] seed ${SEED}: ${RUNS} scenario(s) on the apiserver and on memory (ROTOR_SEED=${SEED} replays them)`);
});

after(async () => {
  await sandbox?.stop();
});

/** The values a scenario draws from, per type: some fit, some break one rule each. */
function values(): Record<string, Record<string, string>[]> {
  const tls = selfSigned('random-a');
  const other = selfSigned('random-b');
  const config = dockerConfig('random-pull-s3cret-Wc40');
  return {
    'kubernetes.io/dockerconfigjson': [
      { '.dockerconfigjson': config },
      { '.dockerconfigjson': '{"auths":{}}', note: 'extra keys are kept' },
      { '.dockerconfigjson': '{"registry.example.test":{}}' },
      { '.dockerconfigjson': 'random-not-json-Fy71' },
      { '.dockercfg': '{"registry.example.test":{}}' },
    ],
    'kubernetes.io/dockercfg': [{ '.dockercfg': '{"registry.example.test":{}}' }, { '.dockercfg': '[1,2]' }, { '.dockerconfigjson': config }],
    'kubernetes.io/tls': [
      { 'tls.crt': tls.crt, 'tls.key': tls.key },
      { 'tls.crt': tls.crt, 'tls.key': tls.key, 'ca.crt': other.crt },
      { 'tls.crt': tls.crt, 'tls.key': other.key },
      { 'tls.crt': tls.crt },
      { 'tls.crt': 'random-not-pem-Gh62', 'tls.key': tls.key },
    ],
    'kubernetes.io/basic-auth': [{ username: 'robot' }, { password: 'random-basic-Qa93' }, { user: 'robot', pass: 'random-basic-Qa93' }],
    'kubernetes.io/ssh-auth': [{ 'ssh-privatekey': other.key }, { id_rsa: other.key }],
    'kubernetes.io/service-account-token': [{ token: 'random-sa-token-Jk28' }],
    [OPAQUE]: [{ api_token: 'random-opaque-Nm15' }, {}],
    'example.com/custom': [{ anything: 'random-custom-Pl04' }],
  };
}

interface Outcome {
  created: string | null;
  refused: string | null;
  types: (string | null)[];
  data: (Record<string, string> | null)[];
}

async function createIn(w: World, n: number, type: string, data: Record<string, string>): Promise<Outcome> {
  const acts = createActivities({ cluster: w.cluster, stores: { kubernetes: new HeldValueStore(data) }, metrics: {} });
  const version = `${BASE}-2026120612${String(n).padStart(4, '0')}`;
  const input: CreateVersionInput = {
    secret: BASE,
    version,
    rotationId: `rotate-random/${n}`,
    value: { fromFile: 'held.env' },
    store: 'kubernetes',
    namespaces: NAMESPACES,
    ...(type === OPAQUE && n % 2 ? {} : { type }),
  };
  let created: string | null = null;
  let refused: string | null = null;
  try {
    const result = (await new MockActivityEnvironment().run(acts.createVersion as (i: unknown) => Promise<CreateVersionResult>, input)) as CreateVersionResult;
    created = result.outcome;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'RotorInputError', err.message);
    refused = err.message;
  }
  const types = await Promise.all(NAMESPACES.map((ns) => w.cluster.readVersionType(ns, version)));
  const stored = await Promise.all(NAMESPACES.map(async (ns) => (await w.cluster.readVersion(ns, version))?.data ?? null));
  return { created, refused, types, data: stored };
}

describe('Secret types, randomized on the apiserver and on memory', () => {
  it(`creates exactly the versions that fit their type, with it, and nothing else (seed ${SEED})`, async () => {
    const pool = values();
    const worlds: World[] = [new MemoryWorld(), new KubeWorld(kc)];
    for (const w of worlds) for (const ns of NAMESPACES) await w.namespace(ns);
    let n = 0;
    const seen: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(pool)).chain((type) => fc.tuple(fc.constant(type), fc.constantFrom(...pool[type]))),
        async ([type, data]) => {
          n += 1;
          const fits = dataRefusal(type, data, checkKeyPair) === null;
          seen[`${type} ${fits ? 'fits' : 'refused'}`] = (seen[`${type} ${fits ? 'fits' : 'refused'}`] ?? 0) + 1;
          const [memory, kube] = await Promise.all(worlds.map((w) => createIn(w, n, type, data)));
          assert.deepEqual(memory, kube, 'the memory double and the apiserver end the same');
          if (fits) {
            assert.equal(kube.created, 'created', kube.refused ?? '');
            assert.deepEqual(kube.types, [type, type], 'every copy keeps the type');
            assert.deepEqual(kube.data, [data, data]);
          } else {
            assert.match(kube.refused!, new RegExp(`the Secret type ${type.replace(/\./g, '\\.')}`));
            assert.deepEqual(kube.types, [null, null], 'nothing was created');
            for (const v of Object.values(data)) assert.ok(!kube.refused!.includes(v), 'no value in the refusal');
          }
        },
      ),
      // No shrinking on a real apiserver: the seed and the counterexample are printed as found.
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    console.log(`[secret-types] seed ${SEED} covered: ${JSON.stringify(seen)}`);
  });
});
