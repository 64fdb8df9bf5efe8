// `rotor versions <secret> -n <namespace>`: every version, its age, and who uses it, from KUBECONFIG.
import { KubernetesCluster } from '../activities/kubernetes';

function age(from: Date | null, now = new Date()): string {
  if (!from) return '-';
  const s = Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export async function versionsCommand(secret: string, namespace: string): Promise<string> {
  const cluster = KubernetesCluster.fromEnvironment();
  const versions = await cluster.listVersions(namespace, secret);
  if (versions.length === 0) return `no version of ${secret} in namespace ${namespace}`;
  const current = versions.find((v) => v.usedBy.length > 0)?.name;
  const rows = versions.map((v) => [
    v.name,
    age(v.createdAt),
    v.name === current ? 'current' : v.usedBy.length ? 'in use' : '-',
    v.usedBy.map((u) => `${u.kind}/${u.name}`).join(', ') || '(none)',
  ]);
  const header = ['VERSION', 'AGE', 'STATE', 'USED BY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}
