// store external-secrets in Git mode, for workflow tests and recorded histories: a world whose
// production Deployment and versions' ExternalSecrets Flux applies from a repository on the real Git
// server (staging's live), the memory cluster playing External Secrets Operator over a store double
// that keeps each version's value under its pinned id, and the worker's Git access with the controller
// standing in (what rotor commits is applied to the memory cluster, as Flux would).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { MemoryCluster } from '../../activities/memory';
import { GitChanges } from '../../activities/git/changes';
import type { SecretStorePort } from '../../activities/ports';
import { externalSecretBody, externalVersionMetadata } from '../../activities/kubernetes/external-secrets';
import type { GitTarget } from '../../contract/activities';
import type { GitServer } from '../../sandbox/git-server';
import { ENV_FROM } from './doubles';
import { FLUX_LABELS, productionManifest } from './git-mode';
import { recordValues } from './leak';
import { twoStagePlan } from './plans';

export const SECRET = 'auth-api-secrets';
export const OLD = `${SECRET}-20250101000000`;
const SECRET_ID = '/production/auth-api/token';
const OLD_VALUE = 'rotor-leak-canary-git-eso-old-Hx41';

/** A store outside the cluster that keeps each version's value under its pinned id, as AWS does. */
function memoryStore(): { store: SecretStorePort; values: Map<string, Record<string, string>> } {
  const values = new Map<string, Record<string, string>>([[`uuid/${OLD}`, { api_token: OLD_VALUE }]]);
  recordValues([OLD_VALUE]);
  const store: SecretStorePort = {
    kind: 'external-secrets',
    versionIdFor: (version, rotationId) => `${version}.${rotationId.length}`,
    remoteRef: ({ version, versionId }) => ({ key: SECRET_ID, version: `uuid/${versionId ?? version}` }),
    stageVersion: async (request) => {
      const id = `uuid/${request.versionId ?? request.version}`;
      if (!values.has(id)) {
        const value = { api_token: `rotor-leak-canary-git-eso-${request.version.slice(-6)}-${values.size}` };
        recordValues(Object.values(value));
        values.set(id, value);
      }
      return values.get(id)!;
    },
    promoteVersion: async () => undefined,
    markFailed: async () => undefined,
    deleteVersion: async () => undefined,
  };
  return { store, values };
}

/** The old version's ExternalSecret as an earlier rotation in Git mode committed it. */
const oldManifest = (namespace: string) =>
  stringify(
    externalSecretBody({
      namespace,
      name: OLD,
      base: SECRET,
      rotationId: 'earlier/run',
      secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' },
      remoteRef: { key: SECRET_ID, version: `uuid/${OLD}` },
    }),
  );

/** The world, its repository named `name` on `server`. */
export async function esoWorld(server: GitServer, name: string) {
  const url = await server.createRepository(name, {
    'apps/production/auth.yaml': productionManifest(OLD),
    [`apps/production/${OLD}.external-secret.yaml`]: oldManifest('production'),
    'apps/production/kustomization.yaml': `resources:\n  - auth.yaml\n  - ${OLD}.external-secret.yaml\n`,
  });
  const { store, values } = memoryStore();
  const cluster = new MemoryCluster(
    {
      secrets: [],
      workloads: [],
      secretStores: [{ kind: 'ClusterSecretStore', name: 'aws', ready: true, provider: { aws: { service: 'SecretsManager', region: 'us-east-1' } } }],
    },
    async (ref) => {
      const value = values.get(ref.version);
      if (!value) throw new Error(`no version ${ref.version}`);
      return value;
    },
  );
  for (const namespace of ['staging', 'production']) {
    const metadata = externalVersionMetadata({ namespace, name: OLD, base: SECRET, rotationId: 'earlier/run' });
    cluster.world.externalSecrets = [
      ...(cluster.world.externalSecrets ?? []),
      { namespace, name: OLD, secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' }, remoteRef: { key: SECRET_ID, version: `uuid/${OLD}` }, ...metadata },
    ];
    cluster.world.workloads.push({ kind: 'Deployment', namespace, name: 'auth-api', replicas: 4, refs: { [ENV_FROM]: OLD } });
  }
  cluster.world.workloads.find((w) => w.namespace === 'production')!.labels = { ...FLUX_LABELS };
  return { name, url, cluster, store };
}

/**
 * The worker's Git access, with the controller standing in: an ExternalSecret rotor commits is applied to
 * the memory cluster as Flux would (the operator then writes its Secret); `afterRemoval` runs once a
 * removal is pushed.
 */
export class StandInGit extends GitChanges {
  constructor(
    server: GitServer,
    private readonly cluster: MemoryCluster,
    private readonly afterRemoval: (round: number) => void = () => undefined,
  ) {
    super({ token: server.token, cacheDir: mkdtempSync(join(tmpdir(), 'rotor-clones-')) });
  }

  override async commitVersionFile(target: GitTarget, change: Parameters<GitChanges['commitVersionFile']>[1]) {
    const result = await super.commitVersionFile(target, change);
    const es = parse(change.manifest) as {
      metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
      spec: { secretStoreRef: { name: string; kind: 'ClusterSecretStore' }; dataFrom: { extract: { key: string; version: string } }[] };
    };
    const list = (this.cluster.world.externalSecrets ??= []);
    if (!list.some((e) => e.namespace === es.metadata.namespace && e.name === es.metadata.name))
      list.push({
        namespace: es.metadata.namespace,
        name: es.metadata.name,
        secretStoreRef: es.spec.secretStoreRef,
        remoteRef: { key: es.spec.dataFrom[0].extract.key, version: es.spec.dataFrom[0].extract.version },
        labels: es.metadata.labels,
        annotations: es.metadata.annotations,
      });
    return result;
  }

  override async removeVersionFiles(target: GitTarget, change: Parameters<GitChanges['removeVersionFiles']>[1]) {
    const result = await super.removeVersionFiles(target, change);
    this.afterRemoval(change.round);
    return result;
  }
}

/** The plan: store external-secrets, production through Git. */
export const esoGitPlan = (url: string, top: object = {}) =>
  twoStagePlan({
    production: { strategy: 'rolling', gitops: { path: 'apps/production' } },
    top: {
      store: 'external-secrets',
      awsSecretsManager: { secretId: SECRET_ID, region: 'us-east-1' },
      externalSecrets: { secretStoreRef: { name: 'aws', kind: 'ClusterSecretStore' } },
      gitops: { repo: url, author: { name: 'rotor', email: 'rotor@example.test' } },
      ...top,
    },
  });
