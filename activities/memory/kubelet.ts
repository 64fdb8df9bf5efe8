// What kubelet says of a pod whose Secret references do not resolve: it stays Pending, its containers
// waiting in CreateContainerConfigError with this reason. One verdict for the sandbox's pod simulator
// (kubelet on the real apiserver) and the memory apiserver's kubelet (memory/workloads.ts).
import type * as k8s from '@kubernetes/client-node';

/** `<namespace>/<name>` -> the Secret's data (its keys are what is looked at). */
export type SecretIndex = Map<string, Record<string, string>>;

/** Why a pod cannot start: the first Secret reference that does not resolve, as kubelet words it. */
export function missingSecretReason(pod: k8s.V1Pod, secrets: SecretIndex): string | null {
  const ns = pod.metadata?.namespace ?? 'default';
  const find = (name: string) => secrets.get(`${ns}/${name}`);
  const spec = pod.spec!;
  for (const vol of spec.volumes ?? []) {
    if (vol.secret?.secretName && !vol.secret.optional && !find(vol.secret.secretName)) return `secret "${vol.secret.secretName}" not found`;
    for (const src of vol.projected?.sources ?? []) {
      if (src.secret?.name && !src.secret.optional && !find(src.secret.name)) return `secret "${src.secret.name}" not found`;
    }
  }
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  for (const c of containers) {
    for (const from of c.envFrom ?? []) {
      if (from.secretRef?.name && !from.secretRef.optional && !find(from.secretRef.name)) return `secret "${from.secretRef.name}" not found`;
    }
    for (const env of c.env ?? []) {
      const ref = env.valueFrom?.secretKeyRef;
      if (!ref?.name || ref.optional) continue;
      const data = find(ref.name);
      if (!data) return `secret "${ref.name}" not found`;
      // A pod's secretKeyRef always names a key; a memory world's reference may name none.
      if (ref.key !== undefined && !(ref.key in data)) return `couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`;
    }
  }
  return null;
}
