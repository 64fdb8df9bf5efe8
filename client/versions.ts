// `rotor versions <secret> [-n <namespace>]`: every version, its age, and who uses it, from the
// kubeconfig kubectl would use (--kubeconfig, --context; -n defaults to the context's namespace).
import { KubernetesCluster, loadKubeConfig, type KubeConfigOptions } from '../activities/kubernetes';
import { RotorError } from '../activities/errors';
import { AwsSecretsManager } from '../activities/stores/aws-secrets-manager';
import { age, structured, table } from './output';
import { isStructured, type OutputFormat } from './output-format';

/**
 * The staging labels each version carries in the store outside the cluster that keeps it too (from the
 * version's annotations), by version name; an unreachable store is said once, not fatal.
 */
async function storeLabels(
  versions: { name: string; store: { kind: string; secretId: string; region?: string; versionId?: string } | null }[],
  env: NodeJS.ProcessEnv,
) {
  const labels = new Map<string, string>();
  const notes: string[] = [];
  const bySecret = new Map<string, { secretId: string; region?: string; names: { name: string; versionId?: string }[]; prefix: string }>();
  for (const v of versions) {
    // External Secrets mode keeps the value in AWS too: the same labels, by the same version ids.
    if (v.store?.kind !== 'aws-secrets-manager' && v.store?.kind !== 'external-secrets') continue;
    const key = `${v.store.region ?? ''}\u0000${v.store.secretId}`;
    const entry = bySecret.get(key) ?? {
      secretId: v.store.secretId,
      region: v.store.region,
      names: [],
      prefix: v.store.kind === 'external-secrets' ? 'eso+aws' : 'aws',
    };
    entry.names.push({ name: v.name, ...(v.store.versionId ? { versionId: v.store.versionId } : {}) });
    bySecret.set(key, entry);
  }
  for (const { secretId, region, names, prefix } of bySecret.values()) {
    const aws = new AwsSecretsManager({ ...(region ? { region } : {}), ...(env.ROTOR_AWS_ENDPOINT ? { endpoint: env.ROTOR_AWS_ENDPOINT } : {}) });
    try {
      const byId = await aws.labels(secretId);
      for (const { name, versionId } of names) labels.set(name, `${prefix}:${(byId[versionId ?? aws.versionToken(name)] ?? []).join(',') || '(no label)'}`);
    } catch (err) {
      notes.push(`AWS Secrets Manager ${secretId}: ${(err as Error).message}`);
      for (const { name } of names) labels.set(name, `${prefix}:?`);
    }
  }
  return { labels, notes };
}

type Version = Awaited<ReturnType<KubernetesCluster['listVersions']>>[number];

/** One version as `rotor versions` shows it (and prints with -o json|yaml). */
interface VersionRow {
  name: string;
  createdAt: string | null;
  /** current: the newest one in use; in use; unknown: only what could not be read may use it; -: unused. */
  state: string;
  type: string;
  /** Its staging labels in the store outside the cluster that keeps it too, e.g. aws:AWSCURRENT. */
  store: string | null;
  usedBy: string[];
}

function versionRows(versions: Version[], labels: Map<string, string>): VersionRow[] {
  const known = (v: Version) => v.usedBy.filter((u) => !u.unreadable);
  const current = versions.find((v) => known(v).length > 0)?.name;
  return versions.map((v) => ({
    name: v.name,
    createdAt: v.createdAt?.toISOString() ?? null,
    state: v.name === current ? 'current' : known(v).length ? 'in use' : v.usedBy.length ? 'unknown' : '-',
    type: v.type,
    store: labels.get(v.name) ?? null,
    usedBy: v.usedBy.map((u) => (u.unreadable ? `${u.kind} (could not be read)` : `${u.kind}/${u.name}`)),
  }));
}

/**
 * The table of versions: a resource the scan could not read is listed with every version (it may use
 * any). The TYPE column only when a version is not Opaque (the plain case reads as before), or wide.
 */
export function versionsTable(versions: Version[], labels: Map<string, string>, notes: string[], now = new Date(), wide = false): string {
  const rows = versionRows(versions, labels);
  const typed = wide || rows.some((v) => v.type !== 'Opaque');
  const stored = labels.size > 0;
  const header = ['VERSION', 'AGE', ...(wide ? ['CREATED'] : []), 'STATE', ...(typed ? ['TYPE'] : []), ...(stored ? ['STORE'] : []), 'USED BY'];
  const cells = rows.map((v) => [
    v.name,
    age(v.createdAt, now),
    ...(wide ? [v.createdAt ?? '-'] : []),
    v.state,
    ...(typed ? [v.type] : []),
    ...(stored ? [v.store ?? '-'] : []),
    v.usedBy.join(', ') || '(none)',
  ]);
  const unreadable = [...new Set(versions.flatMap((v) => v.usedBy.flatMap((u) => (u.unreadable ? [u.unreadable] : []))))];
  return [table(header, cells), ...notes, ...unreadable].join('\n');
}

/** A cluster's error, with which cluster it was (as the user chose it) and how to check it without rotor. */
export function explainClusterError(loaded: ReturnType<typeof loadKubeConfig>, kubeconfig: string | undefined, namespace: string): (err: unknown) => never {
  return (err) => {
    if (!(err instanceof RotorError)) throw err;
    const where = `cluster ${loaded.kc.getCurrentCluster()?.server}, context ${loaded.context} in ${loaded.source}`;
    const kubectl = `kubectl ${kubeconfig ? `--kubeconfig ${kubeconfig} ` : ''}--context ${loaded.context} get secrets -n ${namespace}`;
    throw new RotorError(err.type, `${err.message}\n(${where}); check it with: ${kubectl}`, err.object, err.status);
  };
}

export interface VersionsOptions extends KubeConfigOptions {
  /** -n; default the kubeconfig context's namespace, then `default`. */
  namespace?: string;
  output?: OutputFormat;
}

export async function versionsCommand(secret: string, options: VersionsOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const loaded = loadKubeConfig(options, env);
  const namespace = options.namespace ?? loaded.namespace;
  const cluster = new KubernetesCluster(loaded.kc);
  const versions = await cluster.listVersions(namespace, secret).catch(explainClusterError(loaded, options.kubeconfig, namespace));
  const { labels, notes } = await storeLabels(versions, env);
  if (isStructured(options.output))
    return structured({ secret, namespace, context: loaded.context, versions: versionRows(versions, labels), notes }, options.output);
  if (versions.length === 0) return `no version of ${secret} in namespace ${namespace} (context ${loaded.context})`;
  return versionsTable(versions, labels, notes, new Date(), options.output === 'wide');
}
