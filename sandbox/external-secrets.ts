// External Secrets Operator in the sandbox: its REAL CustomResourceDefinitions (deploy/crds/bundle.yaml
// of the operator's Go module, pinned in tools.json and fetched by `node scripts/bootstrap.mjs
// --external-secrets`), applied to the sandbox's real kube-apiserver, which then validates every
// ExternalSecret against the operator's own schema.
//
// ExternalSecretsStandIn is NOT the operator. It is a STAND-IN for its controller, written here in
// TypeScript in the style of the pod simulator, for tests that need ExternalSecrets to turn into
// Secrets: it reads the same objects and writes the same Secret and status fields the real
// controller (v0.16.2, pkg/controllers/externalsecret) writes for the cases below, with provider
// reads answered by a resolver function (a map, or moto) instead of a SecretStore's provider. Its
// log lines start with "[eso stand-in]". What it does not do is listed on the class.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane';
import { cacheDir, repoRoot } from './tools';
import { PollLoop } from './poll-loop';

const run = promisify(execFile);

export const ESO_GROUP = 'external-secrets.io';
export const ESO_VERSION = 'v1';
export const EXTERNAL_SECRETS_CRD = 'externalsecrets.external-secrets.io';

interface EsoPin {
  key: string;
  module: string;
  version: string;
  file: string;
}

function esoPin(): EsoPin {
  const pins = JSON.parse(readFileSync(join(repoRoot, 'tools.json'), 'utf8')) as { 'external-secrets': EsoPin };
  return pins['external-secrets'];
}

/** The pinned bundle.yaml in the tools cache; fetched from the Go module proxy (scripts/eso-tools.mjs) when absent. */
export async function externalSecretsBundle(log?: (line: string) => void): Promise<string> {
  const pin = esoPin();
  const path = join(cacheDir, pin.key, 'bundle.yaml');
  if (existsSync(join(cacheDir, pin.key, '.installed')) && existsSync(path)) return path;
  log?.(`[eso] ${pin.key} not in ${cacheDir}: fetching ${pin.file} of ${pin.module} ${pin.version} ...`);
  // An ES module: a real dynamic import (TypeScript keeps `import()` as it is under nodenext).
  const tools = (await import(pathToFileURL(join(repoRoot, 'scripts', 'eso-tools.mjs')).href)) as {
    installExternalSecretsCrds(cache: string, spec: EsoPin): Promise<string>;
  };
  return tools.installExternalSecretsCrds(cacheDir, pin);
}

/**
 * `kubectl apply --server-side` of the operator's CRD bundle (client-side apply would need the
 * 1.4 MB bundle in a last-applied annotation, over the 256 KiB limit), then waits until the
 * ExternalSecret CRD is Established with `v1` served and the apiserver answers for it.
 */
export async function installExternalSecretsCrds(
  plane: ControlPlane,
  options: { log?: (line: string) => void; timeoutMs?: number } = {},
): Promise<{ bundle: string; servedVersions: string[]; storageVersion: string; installedInMs: number }> {
  const started = Date.now();
  const bundle = await externalSecretsBundle(options.log);
  await run(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, 'apply', '--server-side', '--field-manager', 'rotor-sandbox', '-f', bundle], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last = '';
  for (;;) {
    const crd = await ext.readCustomResourceDefinition({ name: EXTERNAL_SECRETS_CRD }).catch((err) => {
      last = String(err?.message ?? err);
      return null;
    });
    const established = crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    const served = (crd?.spec.versions ?? []).filter((v) => v.served).map((v) => v.name);
    if (crd && established && !served.includes(ESO_VERSION)) {
      throw new Error(`${EXTERNAL_SECRETS_CRD} serves ${served.join(', ')}, not ${ESO_VERSION}`);
    }
    // Established is not quite "the apiserver routes it": list once through the served version.
    const listed =
      established &&
      (await custom.listClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'externalsecrets' }).then(
        () => true,
        (err) => {
          last = String(err?.message ?? err);
          return false;
        },
      ));
    if (crd && listed) {
      const storageVersion = crd.spec.versions.find((v) => v.storage)?.name ?? '';
      const installedInMs = Date.now() - started;
      options.log?.(`[eso] CRDs installed in ${installedInMs} ms: ${EXTERNAL_SECRETS_CRD} serves ${served.join(', ')} (storage ${storageVersion})`);
      return { bundle, servedVersions: served, storageVersion, installedInMs };
    }
    if (Date.now() > deadline) throw new Error(`${EXTERNAL_SECRETS_CRD} not Established and served after apply (last: ${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What the stand-in asks its resolver for: one `remoteRef` (or `dataFrom[].extract`) of an ExternalSecret. */
export interface RemoteRef {
  store: string;
  kind: string;
  key: string;
  version?: string;
  property?: string;
}

/**
 * Reads one provider secret: a string (the secret's value as stored), or a map (a JSON secret,
 * already parsed). Throw `ProviderSecretNotFound` when the provider has no such secret: that is
 * what `deletionPolicy` acts on. Any other error fails the sync (Ready False, SecretSyncedError).
 */
export type Resolver = (ref: RemoteRef) => Promise<Record<string, string> | string>;

/** The provider has no such secret (the operator's esv1.NoSecretErr): deleted, or never created. */
export class ProviderSecretNotFound extends Error {
  constructor(key: string) {
    super(`Secret does not exist: ${key}`);
    this.name = 'ProviderSecretNotFound';
  }
}

export interface StoreRef {
  kind: 'SecretStore' | 'ClusterSecretStore';
  name: string;
  /** A SecretStore's namespace; any namespace when absent. */
  namespace?: string;
}

export interface StandInOptions {
  kubeconfig: string;
  /** The stores the stand-in answers for; ExternalSecrets naming any other store are left alone. */
  stores: StoreRef[];
  resolver: Resolver;
  pollMs?: number;
  log?: (line: string) => void;
}

interface Condition {
  type: string;
  status: 'True' | 'False';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

interface ExternalSecret {
  apiVersion?: string;
  kind?: string;
  metadata: k8s.V1ObjectMeta;
  spec: {
    refreshInterval?: string;
    secretStoreRef?: { name?: string; kind?: string };
    target?: {
      name?: string;
      immutable?: boolean;
      creationPolicy?: 'Owner' | 'Orphan' | 'Merge' | 'None';
      deletionPolicy?: 'Delete' | 'Merge' | 'Retain';
      template?: { type?: string; metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
    };
    data?: { secretKey: string; remoteRef: { key: string; version?: string; property?: string } }[];
    dataFrom?: { extract?: { key: string; version?: string; property?: string } }[];
  };
  status?: { conditions?: Condition[]; refreshTime?: string; syncedResourceVersion?: string; binding?: { name?: string } };
}

// The real controller's labels, annotation and condition texts (externalsecret_controller.go).
const LABEL_MANAGED = 'reconcile.external-secrets.io/managed';
const ANNOTATION_DATA_HASH = 'reconcile.external-secrets.io/data-hash';
const MSG_SYNCED = 'secret synced';
const MSG_SYNCED_RETAIN = 'secret retained due to DeletionPolicy=Retain';
const MSG_DELETED = 'secret deleted due to DeletionPolicy=Delete';
const MSG_MISSING = 'secret will not be created due to CreationPolicy=Merge';
const MSG_GET_DATA = 'could not get secret data from provider';
const MSG_IMMUTABLE = 'could not update secret, target is immutable';
const MSG_OWNED = 'target is owned by another ExternalSecret';
const MSG_DELETE_POLICY = 'could not delete secret';

class SyncError extends Error {
  constructor(
    readonly summary: string,
    readonly detail: string,
  ) {
    super(`${summary}: ${detail}`);
  }
}

/** A Go duration ("1h", "10s", "1h30m", "0") in ms; 1 h (the CRD's default) when absent or unreadable. */
export function goDurationMs(text: string | undefined): number {
  if (text === undefined || text === '') return 3_600_000;
  if (/^0+$/.test(text)) return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) return 3_600_000;
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** The operator's syncedResourceVersion: `<generation>-<hash of labels and annotations>` (its hash function is its own; this one is sha256). */
export function syncedResourceVersion(meta: k8s.V1ObjectMeta): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([meta.annotations ?? {}, meta.labels ?? {}]))
    .digest('hex')
    .slice(0, 32);
  return `${meta.generation ?? 0}-${hash}`;
}

function dataHash(data: Record<string, string>): string {
  const sorted = Object.keys(data)
    .sort()
    .map((k) => [k, data[k]]);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 32);
}

const sameData = (a: Record<string, string> | undefined, b: Record<string, string>): boolean => dataHash(a ?? {}) === dataHash(b);

/**
 * STAND-IN for External Secrets Operator's ExternalSecret controller (not the operator).
 *
 * Does, as the real controller v0.16.2 does:
 *  - polls ExternalSecrets (external-secrets.io/v1) in all namespaces; reconciles one when it has
 *    never synced, its generation/labels/annotations changed since (syncedResourceVersion), its
 *    target Secret is missing or its data no longer matches, or `refreshInterval` has passed
 *    ("0": once); failures are retried with a backoff (1 s doubling to 60 s);
 *  - builds the target Secret: `target.name` (default: the ExternalSecret's name), `immutable`,
 *    `template.type` (default Opaque), `template.metadata` labels/annotations, data from `data[]`
 *    (`secretKey` <- `remoteRef.key`/`version`/`property`) merged over `dataFrom[].extract`
 *    (a JSON secret's keys), the `reconcile.external-secrets.io/managed` label and a data-hash
 *    annotation;
 *  - `creationPolicy`: Owner (default) creates the Secret with a controller ownerReference to the
 *    ExternalSecret (blockOwnerDeletion), adopts one without a controller, and refuses one owned by
 *    another ExternalSecret; Orphan creates/updates without an ownerReference; Merge only writes
 *    into an existing Secret (Ready True, SecretMissing otherwise); None writes nothing;
 *  - never changes an immutable target's data (Ready False, "could not update secret, target is
 *    immutable"), as the apiserver would refuse it anyway;
 *  - `deletionPolicy` governs what happens to the target Secret when the secret is deleted IN THE
 *    PROVIDER (the resolver throws ProviderSecretNotFound), NOT when the ExternalSecret is deleted:
 *    Retain (default) keeps the Secret and fails the sync when a provider secret is missing (Ready
 *    True "secret retained due to DeletionPolicy=Retain" when every entry is gone); Delete skips
 *    missing entries and deletes the Secret (Owner only) when nothing is left (reason
 *    SecretDeleted); Merge skips missing entries, so their keys leave the Secret, which stays;
 *  - deleting the ExternalSecret is left to the cluster: with creationPolicy Owner the garbage
 *    collector (the sandbox's kube-controller-manager) deletes the target Secret; there is no
 *    finalizer, as in the real one;
 *  - status through the status subresource: `conditions` (Ready, with lastTransitionTime kept while
 *    the status does not change), `refreshTime`, `syncedResourceVersion`, `binding` (the Secret
 *    written); a failure also records a
 *    Warning Event (reason UpdateFailed) with the error, as the real one does.
 *
 * Does NOT: read SecretStore/ClusterSecretStore objects or talk to any provider (stores are the
 * names given to it, answered by the resolver, and a store's conditions/Ready are not checked);
 * templating (`template.data`, `templateFrom`, engine v2 functions), `dataFrom[].find`, `rewrite`,
 * generators/`sourceRef`, `decodingStrategy`/`conversionStrategy` (values are used as given),
 * `metadataPolicy: Fetch`, `refreshPolicy` (OnChange/Periodic), ClusterExternalSecrets and
 * PushSecrets, deleting orphaned Secrets after `target.name` changes, the validating webhook
 * (e.g. it does not refuse deletionPolicy=Delete with creationPolicy=Merge up front), watches
 * (it polls), metrics, leader election, and the `reconcile.external-secrets.io/created-by` label. Its syncedResourceVersion and data-hash use sha256, not
 * the operator's hash, so they are not interchangeable with the real controller's.
 */
export class ExternalSecretsStandIn {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly loop: PollLoop;
  /** Failed ExternalSecrets (by uid): when to try again, and the next delay. */
  private readonly backoff = new Map<string, { at: number; delayMs: number }>();
  readonly options: Required<Omit<StandInOptions, 'log'>> & Pick<StandInOptions, 'log'>;

  constructor(options: StandInOptions) {
    this.options = { pollMs: 250, ...options };
    this.loop = new PollLoop(
      () => this.tick(),
      this.options.pollMs,
      (line) => this.log(line),
    );
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(options.kubeconfig);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  private log(line: string): void {
    this.options.log?.(`[eso stand-in] ${line}`);
  }

  async start(): Promise<void> {
    this.log(
      `started (a stand-in for External Secrets Operator's controller, not the operator); stores: ${this.options.stores.map((s) => `${s.kind}/${s.name}`).join(', ')}`,
    );
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private knows(es: ExternalSecret): StoreRef | undefined {
    const ref = es.spec.secretStoreRef;
    const kind = ref?.kind ?? 'SecretStore';
    return this.options.stores.find(
      (s) => s.kind === kind && s.name === ref?.name && (kind === 'ClusterSecretStore' || !s.namespace || s.namespace === es.metadata.namespace),
    );
  }

  private async tick(): Promise<void> {
    const list = (await this.custom.listClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'externalsecrets' })) as {
      items: ExternalSecret[];
    };
    const seen = new Set<string>();
    for (const es of list.items) {
      seen.add(es.metadata.uid!);
      if (es.metadata.deletionTimestamp || !this.knows(es)) continue;
      await this.reconcile(es).catch((err) => {
        if (err?.code !== 409 && err?.code !== 404) this.log(`${es.metadata.namespace}/${es.metadata.name}: ${err?.message ?? err}`);
      });
    }
    for (const uid of this.backoff.keys()) if (!seen.has(uid)) this.backoff.delete(uid);
  }

  private targetName(es: ExternalSecret): string {
    return es.spec.target?.name || es.metadata.name!;
  }

  private async readSecret(name: string, namespace: string): Promise<k8s.V1Secret | null> {
    try {
      return await this.core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if ((err as { code?: number })?.code === 404) return null;
      throw err;
    }
  }

  /** Whether anything calls for a sync now (the real controller's shouldRefresh and isSecretValid). */
  private due(es: ExternalSecret, secret: k8s.V1Secret | null): boolean {
    const uid = es.metadata.uid!;
    const retry = this.backoff.get(uid);
    if (retry) return Date.now() >= retry.at;
    const status = es.status ?? {};
    if (!status.syncedResourceVersion || !status.refreshTime) return true;
    if (status.syncedResourceVersion !== syncedResourceVersion(es.metadata)) return true;
    const policy = es.spec.target?.creationPolicy ?? 'Owner';
    if (policy !== 'None' && policy !== 'Merge' && !this.deletedByPolicy(es)) {
      if (!secret || secret.metadata?.annotations?.[ANNOTATION_DATA_HASH] !== dataHash(decode(secret.data))) return true;
    }
    const interval = goDurationMs(es.spec.refreshInterval);
    return interval > 0 && Date.now() - Date.parse(status.refreshTime) >= interval;
  }

  private deletedByPolicy(es: ExternalSecret): boolean {
    return es.status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'SecretDeleted';
  }

  private async reconcile(es: ExternalSecret): Promise<void> {
    const namespace = es.metadata.namespace!;
    const name = this.targetName(es);
    const existing = await this.readSecret(name, namespace);
    if (!this.due(es, existing)) return;
    const started = new Date();
    try {
      const outcome = await this.sync(es, existing);
      this.backoff.delete(es.metadata.uid!);
      await this.setReady(es, 'True', outcome.reason, outcome.message, started, outcome.binding);
      this.log(`${namespace}/${es.metadata.name}: ${outcome.message} (Secret ${namespace}/${name})`);
    } catch (err) {
      if ((err as { code?: number })?.code === 409) throw err; // a write raced another writer: again next tick
      const failure = err instanceof SyncError ? err : new SyncError(MSG_GET_DATA, String((err as Error)?.message ?? err));
      const prev = this.backoff.get(es.metadata.uid!);
      const delayMs = Math.min((prev?.delayMs ?? 500) * 2, 60_000);
      this.backoff.set(es.metadata.uid!, { at: Date.now() + delayMs, delayMs });
      // Errors name keys and stores, never values: the resolver's message is passed on as it is.
      await this.setReady(es, 'False', 'SecretSyncedError', `${failure.summary}: ${failure.detail}`, started);
      await this.event(es, 'Warning', 'UpdateFailed', failure.detail);
      this.log(`${namespace}/${es.metadata.name}: ${failure.summary}: ${failure.detail} (again in ${delayMs / 1000} s)`);
    }
  }

  /** The provider's data for an ExternalSecret: dataFrom[].extract first, data[] over it; entries whose provider secret is gone are skipped unless Retain. */
  private async providerData(es: ExternalSecret): Promise<Record<string, string>> {
    const store = es.spec.secretStoreRef!;
    const retain = (es.spec.target?.deletionPolicy ?? 'Retain') === 'Retain';
    const ref = (r: { key: string; version?: string; property?: string }): RemoteRef => ({
      store: store.name!,
      kind: store.kind ?? 'SecretStore',
      key: r.key,
      ...(r.version !== undefined ? { version: r.version } : {}),
      ...(r.property !== undefined ? { property: r.property } : {}),
    });
    const out: Record<string, string> = {};
    for (const [i, from] of (es.spec.dataFrom ?? []).entries()) {
      if (!from.extract) throw new SyncError(MSG_GET_DATA, `spec.dataFrom[${i}]: only extract is supported by the stand-in`);
      try {
        const value = await this.options.resolver(ref(from.extract));
        let map: unknown = value;
        if (typeof value === 'string') {
          try {
            map = JSON.parse(value);
          } catch {
            throw new Error(`unable to unmarshal secret ${from.extract.key}: not a JSON object`);
          }
        }
        if (from.extract.property && map && typeof map === 'object') map = (map as Record<string, unknown>)[from.extract.property];
        if (!map || typeof map !== 'object') throw new Error(`unable to unmarshal secret ${from.extract.key}: not a JSON object`);
        for (const [k, v] of Object.entries(map as Record<string, unknown>)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
      } catch (err) {
        if (err instanceof ProviderSecretNotFound && !retain) continue;
        throw new SyncError(MSG_GET_DATA, `spec.dataFrom[${i}] (key: ${from.extract.key}): ${(err as Error).message}`);
      }
    }
    for (const [i, item] of (es.spec.data ?? []).entries()) {
      try {
        const value = await this.options.resolver(ref(item.remoteRef));
        const property = item.remoteRef.property;
        if (typeof value === 'string' && !property) {
          out[item.secretKey] = value;
          continue;
        }
        let map: Record<string, unknown>;
        if (typeof value === 'string') {
          try {
            map = JSON.parse(value) as Record<string, unknown>;
          } catch {
            throw new Error(`key ${property} does not exist in secret ${item.remoteRef.key}`);
          }
        } else {
          map = value;
        }
        if (!property) {
          out[item.secretKey] = JSON.stringify(map);
          continue;
        }
        if (!map || typeof map !== 'object' || !(property in map)) throw new Error(`key ${property} does not exist in secret ${item.remoteRef.key}`);
        const v = map[property];
        out[item.secretKey] = typeof v === 'string' ? v : JSON.stringify(v);
      } catch (err) {
        if (err instanceof ProviderSecretNotFound && !retain) continue;
        throw new SyncError(MSG_GET_DATA, `error processing spec.data[${i}] (key: ${item.remoteRef.key}), err: ${(err as Error).message}`);
      }
    }
    return out;
  }

  private async sync(es: ExternalSecret, existing: k8s.V1Secret | null): Promise<{ reason: string; message: string; binding?: string }> {
    const namespace = es.metadata.namespace!;
    const name = this.targetName(es);
    const target = es.spec.target ?? {};
    const creationPolicy = target.creationPolicy ?? 'Owner';
    const deletionPolicy = target.deletionPolicy ?? 'Retain';
    const data = await this.providerData(es);

    if (Object.keys(data).length === 0) {
      if (deletionPolicy === 'Delete') {
        if (creationPolicy !== 'Owner') {
          throw new SyncError(MSG_DELETE_POLICY, `unable to delete secret ${name}: creationPolicy=${creationPolicy} is not Owner`);
        }
        if (existing) await this.core.deleteNamespacedSecret({ name, namespace }).catch((err) => (err?.code === 404 ? undefined : Promise.reject(err)));
        return { reason: 'SecretDeleted', message: MSG_DELETED };
      }
      if (deletionPolicy === 'Retain') return { reason: 'SecretSynced', message: MSG_SYNCED_RETAIN };
      // Merge: go on, the Secret keeps no provider keys.
    }
    if (creationPolicy === 'None') return { reason: 'SecretSynced', message: MSG_SYNCED };
    if (creationPolicy === 'Merge' && !existing) return { reason: 'SecretMissing', message: MSG_MISSING };

    const owner: k8s.V1OwnerReference = {
      apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
      kind: 'ExternalSecret',
      name: es.metadata.name!,
      uid: es.metadata.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
    const controllerOf = existing?.metadata?.ownerReferences?.find((o) => o.controller);
    if (creationPolicy === 'Owner' && controllerOf && !(controllerOf.kind === 'ExternalSecret' && controllerOf.name === es.metadata.name)) {
      throw new SyncError(MSG_OWNED, `secret ${namespace}/${name} is controlled by ${controllerOf.kind}/${controllerOf.name}`);
    }
    const template = target.template?.metadata ?? {};
    const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
    const labels = { ...(creationPolicy === 'Merge' ? existing?.metadata?.labels : {}), ...template.labels, [LABEL_MANAGED]: 'true' };
    const annotations = { ...(creationPolicy === 'Merge' ? existing?.metadata?.annotations : {}), ...template.annotations };
    const ownerReferences = [
      ...(existing?.metadata?.ownerReferences ?? []).filter((o) => !(o.kind === 'ExternalSecret' && o.name === es.metadata.name)),
      ...(creationPolicy === 'Owner' ? [owner] : []),
    ];

    if (!existing) {
      const body: k8s.V1Secret = {
        metadata: { name, namespace, labels, annotations: { ...annotations, [ANNOTATION_DATA_HASH]: dataHash(data) }, ownerReferences },
        type: target.template?.type ?? 'Opaque',
        data: encoded,
        ...(target.immutable ? { immutable: true } : {}),
      };
      await this.core.createNamespacedSecret({ namespace, body });
      await this.event(es, 'Normal', 'Created', 'secret created');
      return { reason: 'SecretSynced', message: MSG_SYNCED, binding: name };
    }

    const merged = creationPolicy === 'Merge' ? { ...decode(existing.data), ...data } : data;
    if (existing.immutable && !sameData(decode(existing.data), merged)) {
      throw new SyncError(MSG_IMMUTABLE, `error updating secret ${name}: secret is immutable`);
    }
    const body: k8s.V1Secret = {
      ...existing,
      metadata: { ...existing.metadata, labels, annotations: { ...annotations, [ANNOTATION_DATA_HASH]: dataHash(merged) }, ownerReferences },
      ...(existing.immutable ? {} : { data: Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])) }),
      ...(target.immutable && !existing.immutable ? { immutable: true } : {}),
    };
    if (JSON.stringify([body.metadata, body.data, body.immutable]) !== JSON.stringify([existing.metadata, existing.data, existing.immutable])) {
      await this.core.replaceNamespacedSecret({ name, namespace, body });
      await this.event(es, 'Normal', 'Updated', 'secret updated');
    }
    return { reason: 'SecretSynced', message: MSG_SYNCED, binding: name };
  }

  private async setReady(es: ExternalSecret, status: 'True' | 'False', reason: string, message: string, started: Date, binding?: string): Promise<void> {
    const previous = es.status?.conditions?.find((c) => c.type === 'Ready');
    const condition: Condition = {
      type: 'Ready',
      status,
      reason,
      message,
      lastTransitionTime: previous && previous.status === status ? previous.lastTransitionTime : new Date().toISOString(),
    };
    const body: ExternalSecret = {
      ...es,
      status: {
        ...es.status,
        conditions: [...(es.status?.conditions ?? []).filter((c) => c.type !== 'Ready'), condition],
        // As markAsDone and markAsFailed: only a success moves refreshTime and syncedResourceVersion.
        // status.binding names the Secret written, as the real controller's create and update do.
        ...(binding ? { binding: { name: binding } } : {}),
        ...(status === 'True' ? { refreshTime: started.toISOString().replace(/\.\d+Z$/, 'Z'), syncedResourceVersion: syncedResourceVersion(es.metadata) } : {}),
      },
    };
    await this.custom.replaceNamespacedCustomObjectStatus({
      group: ESO_GROUP,
      version: ESO_VERSION,
      namespace: es.metadata.namespace!,
      plural: 'externalsecrets',
      name: es.metadata.name!,
      body,
    });
  }

  private async event(es: ExternalSecret, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    await this.core
      .createNamespacedEvent({
        namespace: es.metadata.namespace!,
        body: {
          metadata: { generateName: `${es.metadata.name}.`, namespace: es.metadata.namespace },
          involvedObject: {
            apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
            kind: 'ExternalSecret',
            name: es.metadata.name,
            namespace: es.metadata.namespace,
            uid: es.metadata.uid,
          },
          type,
          reason,
          message,
          source: { component: 'external-secrets (rotor stand-in)' },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      })
      .catch((err) => this.log(`event for ${es.metadata.namespace}/${es.metadata.name}: ${err?.message ?? err}`));
  }
}

function decode(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}
