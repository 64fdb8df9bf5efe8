// `rotor versions <secret> -n <namespace>`: every version, its age, and who uses it, from KUBECONFIG.
import { KubernetesCluster } from '../activities/kubernetes';
import { AwsSecretsManager } from '../activities/stores/aws-secrets-manager';

function age(from: Date | null, now = new Date()): string {
  if (!from) return '-';
  const s = Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

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

/** The table of versions: a resource the scan could not read is listed with every version (it may use any). */
export function versionsTable(versions: Version[], labels: Map<string, string>, notes: string[], now = new Date()): string {
  const known = (v: Version) => v.usedBy.filter((u) => !u.unreadable);
  const current = versions.find((v) => known(v).length > 0)?.name;
  // The type column only when a version is not Opaque: the plain case reads as before.
  const typed = versions.some((v) => v.type !== 'Opaque');
  const rows = versions.map((v) => [
    v.name,
    age(v.createdAt, now),
    v.name === current ? 'current' : known(v).length ? 'in use' : v.usedBy.length ? 'unknown' : '-',
    ...(typed ? [v.type] : []),
    ...(labels.size ? [labels.get(v.name) ?? '-'] : []),
    v.usedBy.map((u) => (u.unreadable ? `${u.kind} (could not be read)` : `${u.kind}/${u.name}`)).join(', ') || '(none)',
  ]);
  const unreadable = [...new Set(versions.flatMap((v) => v.usedBy.flatMap((u) => (u.unreadable ? [u.unreadable] : []))))];
  const header = ['VERSION', 'AGE', 'STATE', ...(typed ? ['TYPE'] : []), ...(labels.size ? ['STORE'] : []), 'USED BY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [...[header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')), ...notes, ...unreadable].join('\n');
}

export async function versionsCommand(secret: string, namespace: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const cluster = KubernetesCluster.fromEnvironment();
  const versions = await cluster.listVersions(namespace, secret);
  if (versions.length === 0) return `no version of ${secret} in namespace ${namespace}`;
  const { labels, notes } = await storeLabels(versions, env);
  return versionsTable(versions, labels, notes);
}
