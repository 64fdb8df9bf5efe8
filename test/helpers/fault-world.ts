// The world a rotation leaves, in a form two runs can be compared by: the scenario's namespaces'
// Deployments (replicas, every Secret their templates name, labels, rotor's records on them),
// Secrets (by role: the old version, the new one), Leases, and the rotation's end (phase, the phases
// it went through, what it reverted, cleaned and left). Names that differ between runs by nature
// (the scenario's tag, the new version's timestamp, a green copy's hash) are replaced by their role.
import * as k8s from '@kubernetes/client-node';
import type { RotationStatus } from '../../contract/api';

export type World = Record<string, unknown>;

function normalizer(tag: string, status: RotationStatus): (text: string) => string {
  const newVersion = status.newVersion;
  const previous = status.previousVersion;
  // The version label holds the timestamp alone.
  const stamp = newVersion?.match(/-(\d{14})$/)?.[1];
  return (text) => {
    let out = text.split(tag).join('<tag>');
    if (newVersion) out = out.split(newVersion).join('<new>');
    if (stamp) out = out.split(stamp).join('<new stamp>');
    if (previous) out = out.split(previous).join('<old>');
    return out.replace(/-canary-[0-9a-f]{8}/g, '-canary-<hash>').replace(/rotor\.dev\/switch-[0-9a-f]{12}/g, 'rotor.dev/switch-<hash>');
  };
}

function secretNames(template: k8s.V1PodTemplateSpec | undefined): string[] {
  const spec = template?.spec;
  const names = new Set<string>();
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name) names.add(e.valueFrom.secretKeyRef.name);
    for (const e of c.envFrom ?? []) if (e.secretRef?.name) names.add(e.secretRef.name);
  }
  for (const v of spec?.volumes ?? []) if (v.secret?.secretName) names.add(v.secret.secretName);
  return [...names].sort();
}

function rotorOnly(map: Record<string, string> | undefined, norm: (t: string) => string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(map ?? {})
      .filter(([k]) => k.startsWith('rotor.dev/'))
      .map(([k, v]) => [norm(k), norm(v)])
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/** Consecutive phases once each: PLANNING, CREATING, DEPLOYING, ... */
function phasesOf(status: RotationStatus): string[] {
  const phases: string[] = [];
  for (const e of status.events) if (phases[phases.length - 1] !== e.phase) phases.push(e.phase);
  return phases;
}

export async function worldOf(kc: k8s.KubeConfig, tag: string, status: RotationStatus): Promise<World> {
  const norm = normalizer(tag, status);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const world: World = {};
  for (const ns of [`${tag}-stg`, `${tag}-prd`]) {
    const deployments = (await apps.listNamespacedDeployment({ namespace: ns })).items.map((d) => ({
      name: norm(d.metadata!.name!),
      replicas: d.spec?.replicas ?? null,
      secrets: secretNames(d.spec?.template).map(norm),
      labels: Object.fromEntries(Object.entries(d.metadata?.labels ?? {}).map(([k, v]) => [k, norm(v)])),
      records: rotorOnly(d.metadata?.annotations, norm),
    }));
    const secrets = (await core.listNamespacedSecret({ namespace: ns })).items
      .filter((s) => s.type !== 'kubernetes.io/service-account-token')
      .map((s) => ({ name: norm(s.metadata!.name!), immutable: s.immutable ?? false, labels: rotorOnly(s.metadata?.labels, norm) }));
    const leases = (await coordination.listNamespacedLease({ namespace: ns })).items.map((l) => norm(l.metadata!.name!));
    const key = norm(ns);
    world[key] = {
      deployments: deployments.sort((a, b) => a.name.localeCompare(b.name)),
      secrets: secrets.sort((a, b) => a.name.localeCompare(b.name)),
      leases: leases.sort(),
    };
  }
  world.rotation = {
    phase: status.phase,
    phases: phasesOf(status),
    outcome: status.outcome ? norm(status.outcome) : null,
    leftovers: status.leftovers.map(norm),
    cleaned: status.cleaned.map(norm).sort(),
    switched: status.switched.map((r) => `${norm(r.namespace)}/${r.kind}/${r.name}: ${r.fields.length} field(s)`).sort(),
    reverted: status.events.filter((e) => e.message.startsWith('reverted in ')).map((e) => norm(e.message)),
  };
  return world;
}

/** Where two worlds differ, each difference as `path: expected → found`; empty when they agree. */
export function diffWorlds(expected: unknown, found: unknown, path = ''): string[] {
  if (JSON.stringify(expected) === JSON.stringify(found)) return [];
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(expected) && isObject(found)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(found)])].sort();
    return keys.flatMap((k) => diffWorlds(expected[k], found[k], path ? `${path}.${k}` : k));
  }
  return [`${path}: ${JSON.stringify(expected)} → ${JSON.stringify(found)}`];
}
