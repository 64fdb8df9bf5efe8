// The pure parts of `rotor plan`'s answer: how a holder refers to the Secret, a canary's replicas at
// each step (the canary's own arithmetic, ownership.ts), and how long a stage takes at the least.
import { blueReplicasAt, canaryShare } from '../../activities/kubernetes/ownership';
import type { Stage } from '../../domain/plan';

/** How a reference names the Secret, in the words people use: env, envFrom, volume, projected, CSI, imagePullSecrets, ... */
export function refersHow(field: string): string {
  const shape = field.replace(/\[[^\]]*\]/g, '[]');
  if (shape.endsWith('.env[].valueFrom.secretKeyRef.name')) return 'env';
  if (shape.endsWith('.envFrom[].secretRef.name')) return 'envFrom';
  if (shape === 'imagePullSecrets[].name') return 'imagePullSecrets';
  if (shape === 'volumes[].secret.secretName') return 'volume';
  if (shape === 'volumes[].projected.sources[].secret.name') return 'projected volume';
  if (shape === 'volumes[].csi.nodePublishSecretRef.name') return 'CSI volume';
  const volume = /^volumes\[\]\.(\w+)\./.exec(shape);
  if (volume) return `${volume[1]} volume`;
  return field;
}

/** One canary step of a Deployment: the share asked, and the replicas blue and green run once it is taken. */
export interface CanaryStep {
  weightPercent: number;
  blue: number;
  green: number;
}

/**
 * A Deployment's replicas at each canary step, as the canary step computes them (canary.ts with
 * ownership.ts): green gets its share first, blue gives up what green proved at the step before; at
 * 100% blue runs the new version at full size, and green goes once the canary completes.
 */
export function canaryReplicas(original: number, steps: readonly number[]): CanaryStep[] {
  let record: Parameters<typeof blueReplicasAt>[1];
  let blue = original;
  return steps.map((weightPercent, i) => {
    const previous = i === 0 ? 0 : steps[i - 1];
    if (weightPercent >= 100) return { weightPercent: 100, blue: record?.before ?? original, green: canaryShare(original, previous) };
    const at = blueReplicasAt(blue, record, previous);
    record = at.replicas;
    if (at.set !== null) blue = at.set;
    return { weightPercent, blue, green: canaryShare(original, weightPercent) };
  });
}

/** The least time a stage takes once it starts (no approval wait, instant rollouts): its checks and soak. */
export function leastStageMs(stage: Stage): number {
  const checks = stage.strategy.type === 'canary' ? stage.strategy.steps.length * stage.strategy.pauseMs : (stage.analysis?.verifyMs ?? 0);
  return checks + stage.soakMs;
}
