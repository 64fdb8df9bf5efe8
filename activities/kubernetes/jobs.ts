// Pre-flight Jobs: a Job in the stage's namespace whose one pod reads the new version as the stage's
// workloads do (envFrom, or a volume), run to its end (complete, failed, or its deadline), its last log
// lines read (pods/log; where no kubelet answers, the termination message the pod's
// FallbackToLogsOnError policy leaves), then deleted with its pods. The Job carries the rotation's
// annotation, so a retried activity goes on with its own Job and never takes another's.
import * as k8s from '@kubernetes/client-node';
import { setTimeout as delay } from 'node:timers/promises';
import { RotorError } from '../errors';
import type { PreflightJobRun, PreflightJobSpec } from '../ports';
import { statusCode, toRotorError } from './kinds';
import { LABEL_SECRET } from './ownership';

const ROTATION = 'rotor.dev/rotation';
/** Log lines a result keeps. */
const LOG_LINES = 10;
/** A container that waits for one of these cannot start without someone fixing the Job or its Secret: failed at once. */
const HOPELESS = ['CreateContainerConfigError', 'InvalidImageName', 'CreateContainerError'];
/** Waits an image pull may recover from, given this long. */
const PULLING = ['ErrImagePull', 'ImagePullBackOff'];
const PULL_GRACE_MS = 30_000;

/** The Job, as created: no retries, the deadline on the Job itself, no token, no privilege. */
export function preflightJobManifest(spec: PreflightJobSpec): k8s.V1Job {
  const { job } = spec;
  const volume = 'volume' in job.secretAs ? job.secretAs.volume : null;
  const base = spec.version.replace(/-\d{14}$/, '');
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'rotor', 'app.kubernetes.io/component': 'preflight', [LABEL_SECRET]: base },
      annotations: { [ROTATION]: spec.rotationId, 'rotor.dev/tests-version': spec.version },
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(1, Math.ceil(job.timeoutMs / 1000)),
      // Should rotor never come back to delete it.
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: { 'app.kubernetes.io/managed-by': 'rotor', 'app.kubernetes.io/component': 'preflight' } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'preflight',
              image: job.image,
              ...(job.command ? { command: job.command } : {}),
              ...(job.args ? { args: job.args } : {}),
              terminationMessagePolicy: 'FallbackToLogsOnError',
              securityContext: { allowPrivilegeEscalation: false },
              ...(volume ? { volumeMounts: [{ name: 'version', mountPath: volume, readOnly: true }] } : { envFrom: [{ secretRef: { name: spec.version } }] }),
            },
          ],
          ...(volume ? { volumes: [{ name: 'version', secret: { secretName: spec.version } }] } : {}),
        },
      },
    },
  };
}

function condition(job: k8s.V1Job, type: string): k8s.V1JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

export class PreflightJobs {
  constructor(
    private readonly batch: k8s.BatchV1Api,
    private readonly core: k8s.CoreV1Api,
    private readonly pollMs = 1000,
  ) {}

  async run(spec: PreflightJobSpec): Promise<PreflightJobRun> {
    const object = `Job ${spec.namespace}/${spec.name}`;
    await this.create(spec, object);
    try {
      return await this.wait(spec, object);
    } finally {
      await this.batch
        .deleteNamespacedJob({ name: spec.name, namespace: spec.namespace, propagationPolicy: 'Background' })
        .catch((err) => (statusCode(err) === 404 ? undefined : Promise.reject(toRotorError(err, 'delete the pre-flight Job', object))));
    }
  }

  private async create(spec: PreflightJobSpec, object: string): Promise<void> {
    try {
      await this.batch.createNamespacedJob({ namespace: spec.namespace, body: preflightJobManifest(spec) });
    } catch (err) {
      if (statusCode(err) !== 409) throw toRotorError(err, 'create the pre-flight Job', object);
      const existing = await this.batch.readNamespacedJob({ name: spec.name, namespace: spec.namespace }).catch((e) => {
        throw toRotorError(e, 'read the pre-flight Job', object);
      });
      if (existing.metadata?.annotations?.[ROTATION] !== spec.rotationId)
        throw new RotorError('OwnershipConflict', `${object} exists and is not this rotation's pre-flight Job; delete it or rename it`, object);
      // An earlier attempt's Job on its way out (its outcome went with that attempt): run the check
      // again once it is gone, a retry rather than a verdict.
      if (existing.metadata?.deletionTimestamp)
        throw new RotorError('Unavailable', `${object} from an earlier attempt is being deleted; the check runs again once it is gone`, object);
    }
  }

  private async wait(spec: PreflightJobSpec, object: string): Promise<PreflightJobRun> {
    const started = Date.now();
    // The Job's own deadline ends it; this one only covers a Job controller that never says so.
    const deadline = started + spec.job.timeoutMs + 60_000;
    let pullingSince: number | null = null;
    for (;;) {
      const job = await this.batch.readNamespacedJob({ name: spec.name, namespace: spec.namespace }).catch((err) => {
        // Deleted while rotor waited (by an earlier attempt's cleanup, or by hand): run it again, not a verdict.
        if (statusCode(err) === 404) throw new RotorError('Unavailable', `${object} was deleted while rotor waited for it; the check runs again`, object);
        throw toRotorError(err, 'read the pre-flight Job', object);
      });
      const pods = await this.pods(spec);
      const complete = !!condition(job, 'Complete') || (job.status?.succeeded ?? 0) > 0;
      if (complete) return { passed: true, message: `Job ${spec.name} succeeded in ${seconds(Date.now() - started)}`, logs: await this.logs(spec, pods) };
      const failed = condition(job, 'Failed') ?? condition(job, 'FailureTarget');
      const exit = terminated(pods);
      if (failed || exit) {
        const why = exit
          ? `its container exited ${exit.exitCode}${exit.reason ? ` (${exit.reason})` : ''}`
          : `${failed!.reason ?? 'Failed'}: ${failed!.message ?? ''}`;
        return { passed: false, message: `Job ${spec.name} failed: ${why}`, logs: await this.logs(spec, pods) };
      }
      const waiting = waitingReason(pods);
      pullingSince = waiting && PULLING.includes(waiting.reason) ? (pullingSince ?? Date.now()) : null;
      if ((waiting && HOPELESS.includes(waiting.reason)) || (pullingSince !== null && Date.now() - pullingSince >= PULL_GRACE_MS))
        return { passed: false, message: `Job ${spec.name} cannot start: ${waiting!.reason}${waiting!.message ? `: ${waiting!.message}` : ''}`, logs: [] };
      if (Date.now() > deadline)
        return {
          passed: false,
          message: `Job ${spec.name} did not finish within ${seconds(spec.job.timeoutMs)}${waiting ? ` (its container waits: ${waiting.reason})` : ''}`,
          logs: await this.logs(spec, pods),
        };
      await delay(this.pollMs);
    }
  }

  private async pods(spec: PreflightJobSpec): Promise<k8s.V1Pod[]> {
    const list = await this.core.listNamespacedPod({ namespace: spec.namespace, labelSelector: `job-name=${spec.name}` }).catch(() => ({ items: [] }));
    return list.items;
  }

  /** The container's last lines: from pods/log, else its termination message. */
  private async logs(spec: PreflightJobSpec, pods: k8s.V1Pod[]): Promise<string[]> {
    const pod = pods.at(-1);
    if (!pod?.metadata?.name) return [];
    const text = await this.core
      .readNamespacedPodLog({ name: pod.metadata.name, namespace: spec.namespace, container: 'preflight', tailLines: LOG_LINES })
      .catch(() => pod.status?.containerStatuses?.[0]?.state?.terminated?.message ?? '');
    return String(text)
      .split('\n')
      .filter((l) => l.trim())
      .slice(-LOG_LINES);
  }
}

function terminated(pods: k8s.V1Pod[]): k8s.V1ContainerStateTerminated | undefined {
  return pods.map((p) => p.status?.containerStatuses?.[0]?.state?.terminated).find((t) => t && t.exitCode !== 0);
}

function waitingReason(pods: k8s.V1Pod[]): { reason: string; message?: string } | null {
  const waiting = pods.map((p) => p.status?.containerStatuses?.[0]?.state?.waiting).find((w) => w?.reason);
  return waiting ? { reason: waiting.reason!, ...(waiting.message ? { message: waiting.message } : {}) } : null;
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10}s`;
