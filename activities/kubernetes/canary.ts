// Canary by replica weight for a Deployment (blue-green): a green copy on the new version, owned by
// one rotation and named for it, gets ceil(R × weight) replicas while blue gives up only what green
// proved at the previous step, so blue + green never drops below blue's original R. At 100% blue
// itself switches at full size; completing the canary removes green. rotor touches a Deployment under
// a green name only if its annotations say it is this rotation's canary of this Deployment.
import * as k8s from '@kubernetes/client-node';
import { RotorError } from '../errors';
import { statusCode, toRotorError, type KindApi, type Obj } from './kinds';
import {
  ANNOTATION_CANARY_OF,
  ANNOTATION_CANARY_VERSION,
  ANNOTATION_PREVIOUS_WEIGHT,
  ANNOTATION_ROTATION,
  ANNOTATION_WEIGHT,
  LABEL_CANARY,
  canaryLabelValue,
  canaryShare,
  greenName,
  surgeShare,
  ownsGreen,
  previousCanaryWeight,
  readOwnership,
} from './ownership';
import { revertObject, scaleBlue, switchObject, type RevertOutcome, type SwitchOutcome } from './patching';
import { pointerSegment, refsTo, setAt } from './refs';
import { withoutGitopsLabels, type GitOpsOptions } from './gitops';

/** Deployment names are at most 253 characters, and their ReplicaSets add 11. */
const MAX_GREEN_NAME = 253 - 11;

export interface CanaryStepInput {
  namespace: string;
  blue: string;
  from: string;
  to: string;
  weightPercent: number;
  /** The step before this one (0 at the first); absent from older releases, then read from green. */
  previousWeightPercent?: number;
  rotationId?: string;
  /** Git mode: blue is applied from Git; green grows beside it at full size and blue is never patched. */
  blueStays?: boolean;
}

export interface CanaryStepOutcome {
  green: string;
  weightPercent: number;
  originalReplicas: number;
  blueReplicas: number;
  greenReplicas: number;
  blue: SwitchOutcome;
}

export class Canary {
  constructor(
    private readonly deployments: KindApi,
    private readonly apps: k8s.AppsV1Api,
    /** How GitOps controllers mark what they apply: green never carries it (a controller would prune or adopt it). */
    private readonly gitops: GitOpsOptions = {},
  ) {}

  /** This rotation's green copy of `blue`, or null; a stranger under that name is refused, never touched. */
  async readGreen(namespace: string, blue: string, to: string): Promise<Obj | null> {
    const name = greenName(blue, to);
    let green: Obj;
    try {
      green = await this.deployments.read(namespace, name);
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw toRotorError(err, 'read', `Deployment ${namespace}/${name}`);
    }
    if (!ownsGreen(green.metadata?.annotations, blue, to)) {
      throw new RotorError(
        'OwnershipConflict',
        `Deployment ${namespace}/${name} exists but is not rotor's canary of ${blue} for ${to}; rotor will not scale, switch or delete it — rename or remove it, then retry`,
        `Deployment/${name}`,
      );
    }
    return green;
  }

  async step(input: CanaryStepInput): Promise<CanaryStepOutcome> {
    const { namespace, blue: blueName, from, to, weightPercent } = input;
    const name = greenName(blueName, to);
    if (name.length > MAX_GREEN_NAME)
      throw new RotorError('RotorInputError', `Deployment ${blueName}: its name is too long for a canary copy (${name}); use a rolling strategy for it`);
    let blue: Obj;
    try {
      blue = await this.deployments.read(namespace, blueName);
    } catch (err) {
      throw toRotorError(err, 'read', `Deployment ${namespace}/${blueName}`);
    }
    const green = await this.readGreen(namespace, blueName, to);
    const previousWeight = previousCanaryWeight(green ? (green.metadata?.annotations ?? {}) : null, weightPercent, input.previousWeightPercent);
    const owned = readOwnership(blue.metadata?.annotations, to);
    const original = owned?.replicas?.before ?? blue.spec?.replicas ?? 1;
    if (input.blueStays) {
      if (weightPercent >= 100)
        throw new RotorError('RotorInputError', `Deployment ${namespace}/${blueName} is applied from Git: at 100% its reference changes by a commit, not here`);
      const greenReplicas = surgeShare(original, weightPercent);
      if (!green) await this.createGreen(blue, name, from, to, original, greenReplicas, weightPercent, previousWeight, input.rotationId);
      else await this.scaleGreen(namespace, name, green, greenReplicas, weightPercent, previousWeight);
      return { green: name, weightPercent, originalReplicas: original, blueReplicas: blue.spec?.replicas ?? original, greenReplicas, blue: { fields: [] } };
    }
    if (weightPercent >= 100) {
      const outcome = await switchObject(this.deployments, 'Deployment', namespace, blueName, from, to, true);
      return {
        green: name,
        weightPercent: 100,
        originalReplicas: original,
        blueReplicas: outcome.replicas?.wrote ?? original,
        greenReplicas: green?.spec?.replicas ?? 0,
        blue: outcome,
      };
    }
    const greenReplicas = canaryShare(original, weightPercent);
    // Green grows first, then blue shrinks: capacity never dips below the original during a step.
    if (!green) await this.createGreen(blue, name, from, to, original, greenReplicas, weightPercent, previousWeight, input.rotationId);
    else await this.scaleGreen(namespace, name, green, greenReplicas, weightPercent, previousWeight);
    const outcome = await scaleBlue(this.deployments, namespace, blueName, from, to, previousWeight);
    return {
      green: name,
      weightPercent,
      originalReplicas: original,
      blueReplicas: outcome.replicas?.wrote ?? blue.spec?.replicas ?? original,
      greenReplicas,
      blue: outcome,
    };
  }

  private async createGreen(
    blue: Obj,
    name: string,
    from: string,
    to: string,
    original: number,
    replicas: number,
    weight: number,
    previousWeight: number,
    rotationId?: string,
  ): Promise<void> {
    const namespace = blue.metadata!.namespace!;
    const template = structuredClone(blue.spec.template);
    const track = canaryLabelValue(to);
    // Green runs the new version wherever blue names the previous one.
    for (const ref of refsTo('Deployment', blue, from)) setAt({ spec: { template } }, ref.path, to);
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [LABEL_CANARY]: track } };
    const body = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name,
        namespace,
        labels: { ...withoutGitopsLabels(blue.metadata?.labels, this.gitops), [LABEL_CANARY]: track, 'app.kubernetes.io/managed-by': 'rotor' },
        annotations: {
          [ANNOTATION_CANARY_OF]: blue.metadata!.name!,
          [ANNOTATION_CANARY_VERSION]: to,
          [ANNOTATION_WEIGHT]: String(weight),
          [ANNOTATION_PREVIOUS_WEIGHT]: String(previousWeight),
          'rotor.dev/original-replicas': String(original),
          ...(rotationId ? { [ANNOTATION_ROTATION]: rotationId } : {}),
        },
      },
      spec: { ...structuredClone(blue.spec), replicas, selector: { matchLabels: { ...blue.spec.selector?.matchLabels, [LABEL_CANARY]: track } }, template },
    };
    delete (body.spec as { paused?: boolean }).paused;
    try {
      await this.apps.createNamespacedDeployment({ namespace, body: body as k8s.V1Deployment });
    } catch (err) {
      // Created by an earlier attempt of this step: the next read proves whose it is.
      if (statusCode(err) !== 409) throw toRotorError(err, 'create', `Deployment ${namespace}/${name}`);
      const green = await this.readGreen(namespace, blue.metadata!.name!, to);
      if (green) await this.scaleGreen(namespace, name, green, replicas, weight, previousWeight);
    }
  }

  private async scaleGreen(namespace: string, name: string, green: Obj, replicas: number, weight: number, previousWeight: number): Promise<void> {
    const a = (key: string) => `/metadata/annotations/${pointerSegment(key)}`;
    // Already there (an earlier attempt's patch landed, its answer lost): no request, so a retried step
    // asks less of the apiserver each time and converges however often its answers are lost.
    const annotations = green.metadata?.annotations ?? {};
    if (
      green.spec?.replicas === replicas &&
      annotations[ANNOTATION_WEIGHT] === String(weight) &&
      annotations[ANNOTATION_PREVIOUS_WEIGHT] === String(previousWeight)
    )
      return;
    try {
      await this.deployments.patch(namespace, name, [
        { op: 'test', path: a(ANNOTATION_CANARY_VERSION), value: green.metadata!.annotations![ANNOTATION_CANARY_VERSION] },
        { op: 'replace', path: '/spec/replicas', value: replicas },
        { op: 'add', path: a(ANNOTATION_WEIGHT), value: String(weight) },
        { op: 'add', path: a(ANNOTATION_PREVIOUS_WEIGHT), value: String(previousWeight) },
      ]);
    } catch (err) {
      throw toRotorError(err, 'scale', `Deployment ${namespace}/${name}`);
    }
  }

  /**
   * Blue back (its fields and, if rotor still owns them, its replicas), then this rotation's green
   * goes; with `mark`, blue's record names the green before it goes, so a retry reports its removal.
   */
  async revert(
    namespace: string,
    blue: string,
    newVersion: string,
    previous: string,
    alsoFields: string[],
    mark = false,
  ): Promise<RevertOutcome & { greenRemoved: boolean }> {
    const green = mark ? await this.readGreen(namespace, blue, newVersion) : null;
    const outcome = await revertObject(this.deployments, 'Deployment', namespace, blue, newVersion, previous, alsoFields, {
      mark,
      ...(green ? { green: green.metadata!.name! } : {}),
    });
    const greenRemoved = await this.removeGreen(namespace, blue, newVersion);
    return { ...outcome, greenRemoved };
  }

  /** Remove this rotation's green copy of `blue` (only if it is this rotation's). */
  async removeGreen(namespace: string, blue: string, to: string): Promise<boolean> {
    const green = await this.readGreen(namespace, blue, to);
    if (!green) return false;
    try {
      await this.apps.deleteNamespacedDeployment({
        namespace,
        name: green.metadata!.name!,
        propagationPolicy: 'Background',
        body: { preconditions: { uid: green.metadata!.uid } },
      });
    } catch (err) {
      if (statusCode(err) !== 404) throw toRotorError(err, 'delete', `Deployment ${namespace}/${green.metadata!.name}`);
    }
    return true;
  }
}
