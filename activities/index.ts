// createActivities(deps): the workflow's activities over the ports. The worker passes real adapters;
// tests of the workflow may pass doubles of these functions instead.
import { Context } from '@temporalio/activity';
import {
  classify,
  classifyAgainstBaseline,
  concludeAnalysis,
  judge,
  measurementsToKeep,
  renderQuery,
  type AnalysisLimits,
  type Measurement,
} from '../domain/analysis';
import type { RotorActivities } from '../contract/activities';
import { RotorError, toActivityFailure } from './errors';
import { activityContext, liveStep, reportProgress } from './liveness';
import { credentialIdOf, parseHolder, qualifiedHolder } from '../domain/naming';
import { sameData } from './values';
import { checkSecretData } from './secret-types';
import { OPAQUE } from '../domain/secret-types';
import type {
  VersionRecord,
  ClusterPort,
  CredentialIssuer,
  ExternalVersionSpec,
  IssuedCredential,
  MetricProvider,
  RotorDeps,
  SecretData,
  SecretStorePort,
} from './ports';
import { issuerSource, type Analysis, type MetricsProvider, type StoreKind, type StoreTarget } from '../domain/plan';
import type {
  CheckResult,
  ClaimResult,
  CreateVersionInput,
  CredentialOutcome,
  DiscoveredStage,
  MonitorInput,
  RolloutInput,
  SwitchRecord,
} from '../contract/activities';

export type { RotorActivities } from '../contract/activities';
export * from './ports';
export * from '../contract/activities';

/** How long CREATING waits for External Secrets Operator to write a version's Secrets (each attempt). */
const EXTERNAL_SECRET_READY_MS = 90_000;

/** Progress a long activity heartbeats, so a retry after a crash resumes instead of starting over. */
interface MonitorProgress {
  startedAt: string;
  recent: Measurement[];
  taken: number;
  successful: number;
}

/** Sleep up to `ms` with `progress` as what a retry resumes from; throws if the workflow cancelled the activity. */
async function pace(ms: number, progress: unknown): Promise<void> {
  reportProgress(progress);
  if (ms > 0) await Context.current().sleep(ms);
}

/** Said by a worker whose Temporal server does not tell its cluster id (the time-skipping test server) and that has no ROTOR_DEPLOYMENT_ID. */
export const UNIDENTIFIED_DEPLOYMENT = 'unidentified';

/** This worker's Temporal deployment, when the worker is not told it (ROTOR_DEPLOYMENT_ID): the server's cluster id. */
async function askDeployment(): Promise<string> {
  try {
    const { clusterId } = await Context.current().client.connection.workflowService.getClusterInfo({});
    if (clusterId) return clusterId;
  } catch (err) {
    // Only a server that has no GetClusterInfo (gRPC UNIMPLEMENTED) is unidentified; any other error is retried.
    if ((err as { code?: number })?.code !== 12)
      throw new RotorError('Unavailable', `ask the Temporal server its cluster id: ${(err as Error)?.message ?? err}`);
  }
  return UNIDENTIFIED_DEPLOYMENT;
}

/**
 * Whether the rotation that holds a claim still runs. Only a holder of this worker's own deployment and
 * Temporal namespace can be asked; any other (another rotor deployment, another namespace) counts as
 * running, and so does a question that cannot be answered. A holder written by an older release names no
 * deployment: it is taken as this deployment's only when this server has that workflow closed and the
 * claim was made while it ran (so a live claim of another deployment whose workflow id this server
 * once used is never taken over).
 */
function askTemporal(deployment: () => Promise<string>) {
  return async (holder: string, since: string | null): Promise<boolean> => {
    const ctx = Context.current();
    const parsed = parseHolder(holder);
    if (!parsed || parsed.namespace !== ctx.info.workflowNamespace) return true;
    if (parsed.deployment !== null && parsed.deployment !== (await deployment())) return true;
    let described;
    try {
      described = await ctx.client.workflow.getHandle(parsed.workflowId).describe();
    } catch (err) {
      return parsed.deployment === null || (err as Error)?.name !== 'WorkflowNotFoundError';
    }
    if (described.status.name === 'RUNNING') return true;
    if (parsed.deployment !== null) return false;
    const claimedAt = since ? Date.parse(since) : NaN;
    const ran = described.startTime.getTime() <= claimedAt && claimedAt <= (described.closeTime?.getTime() ?? -Infinity);
    return !ran;
  };
}

export function createActivities(deps: RotorDeps): RotorActivities {
  const { cluster } = deps;
  const log = deps.log ?? (() => undefined);
  let knownDeployment: Promise<string> | undefined;
  // Asked once per worker; an answer that failed is asked again next time.
  const deployment = () =>
    (knownDeployment ??= (deps.deploymentId ?? askDeployment)().catch((err) => {
      knownDeployment = undefined;
      throw err;
    }));
  const running = deps.rotationRunning ?? askTemporal(deployment);

  /**
   * Why the version's store version or credential must stay: a copy of it in any namespace (where the
   * creating rotation recorded them, and what a listing finds) is still referred to, or cannot be read,
   * or where its copies are is not known. Null when every copy is gone or unreferenced. `same` tells a
   * copy of this version from another rotation's version of the same name (same second, elsewhere);
   * a copy that records nothing counts, to be safe.
   */
  async function copiesStillUsed(
    version: string,
    recorded: string[] | null | undefined,
    same: (record: VersionRecord) => boolean,
    ignore?: string[],
  ): Promise<string | null> {
    const listed = await cluster.findCopies(version);
    if (!recorded && listed === null) {
      return `where ${version} was copied is not recorded on it (made by an older rotor) and this worker cannot look in every namespace for its copies (it may not list Secrets, or not read them everywhere)`;
    }
    const pending = [...new Set([...(recorded ?? []), ...(listed ?? [])])];
    const seen = new Set(pending);
    const used: string[] = [];
    const unreadable: string[] = [];
    while (pending.length) {
      const namespace = pending.shift()!;
      let record;
      try {
        record = await cluster.readVersionRecord(namespace, version);
      } catch (err) {
        if (!(err instanceof RotorError && (err.type === 'Forbidden' || err.type === 'NotFound'))) throw err;
        unreadable.push(`${namespace} (${err.message})`);
        continue;
      }
      if (!record || !same(record)) continue;
      // A copy lists the others its rotation made: those count too.
      for (const other of (record.copies ?? []).filter((c) => !seen.has(c))) {
        seen.add(other);
        pending.push(other);
      }
      const holders = await cluster.findReferences([namespace], version, ignore ? { ignore } : {});
      if (holders.length) used.push(`${namespace} by ${holders.map((h) => `${h.kind}/${h.name}`).join(', ')}`);
    }
    if (unreadable.length) return `a copy of ${version} may be in a namespace this worker cannot read: ${unreadable.join('; ')}`;
    if (used.length) return `${version} is still used in ${used.join('; ')}`;
    return null;
  }

  /** The store a plan names; one this worker lacks is the plan's or the worker's mistake, not a retry's. */
  function storeFor(kind: StoreKind): SecretStorePort {
    const store = deps.stores[kind];
    if (!store) {
      const has = Object.keys(deps.stores).join(', ') || 'none';
      throw new RotorError(
        'RotorInputError',
        `the plan's store is ${kind}, but this worker has no ${kind} store (it has: ${has}); run a worker configured for ${kind}`,
      );
    }
    return store;
  }

  /**
   * One measurement: the query for the new version, and with a baseline the same query for the old
   * version in the same window; then the stage's Datadog monitors, any in Alert failing it.
   */
  async function measureOnce(input: MonitorInput): Promise<Measurement> {
    try {
      return await measureWith(input);
    } catch (err) {
      // A provider that cannot answer is an error measurement, judged by consecutiveErrorLimit.
      return { at: new Date().toISOString(), value: null, phase: 'error', message: err instanceof Error ? err.message : String(err) };
    }
  }

  async function measureWith(input: MonitorInput): Promise<Measurement> {
    const { analysis } = input;
    const provider = providerFor(analysis.provider);
    const { windowMs = analysis.intervalMs, api, aggregator } = analysis.datadog ?? {};
    const options = { windowMs, ...(api && aggregator ? { datadog: { api, aggregator } } : {}) };
    const vars = { namespace: input.namespace, stage: input.stage, version: input.version };
    const at = new Date().toISOString();
    let measurement: Measurement;
    if (analysis.baseline && input.baselineVersion) {
      const [value, baseline] = await Promise.all([
        provider.measure(renderQuery(analysis.query, vars), options),
        provider.measure(renderQuery(analysis.query, { ...vars, version: input.baselineVersion }), options),
      ]);
      measurement = { at, value, baseline, ...classifyAgainstBaseline(value, baseline, { threshold: analysis.threshold, margin: analysis.baseline.margin }) };
    } else {
      const value = await provider.measure(renderQuery(analysis.query, vars), options);
      measurement = { at, value, phase: classify(value, analysis.threshold) };
      if (value === null) measurement.message = 'the query returned no data';
    }
    const monitors = analysis.datadog?.monitors ?? [];
    if (monitors.length && measurement.phase !== 'failed') {
      if (!provider.monitorStates) throw new RotorError('ProviderError', `the ${provider.name} provider cannot read monitors`);
      const alerting = (await provider.monitorStates(monitors)).filter((m) => m.state === 'Alert');
      if (alerting.length) {
        measurement.phase = 'failed';
        measurement.message = `monitor ${alerting.map((m) => `${m.id} (${m.name})`).join(', ')} in Alert`;
      }
    }
    return measurement;
  }

  /**
   * Measuring while a rollout goes on, at the analysis interval from its start: pods already on the
   * new version serve traffic, so a bad version is caught before the last pod is replaced. Only values
   * above the threshold count here (failureLimit in a row fails the stage); no data or a provider
   * error is expected while pods start and is left to the check after the rollout.
   */
  function analysisDuringRollout(input: RolloutInput, analysis: Analysis, startedAt: number) {
    const limits: AnalysisLimits = { threshold: analysis.threshold, failureLimit: analysis.failureLimit, inconclusiveLimit: Infinity, errorLimit: Infinity };
    const recent: Measurement[] = [];
    let taken = 0;
    let due = startedAt + analysis.intervalMs;
    return {
      async measureIfDue(): Promise<CheckResult | null> {
        if (Date.now() < due) return null;
        due += analysis.intervalMs;
        const monitor: MonitorInput = { stage: input.stage, check: 'rollout', analysis, durationMs: 0, namespace: input.namespace, version: input.version };
        const m = await measureOnce(monitor);
        taken += 1;
        recent.push(m);
        // Only failures in a row decide here: the last failureLimit (or 10) measurements are enough.
        recent.splice(0, Math.max(0, recent.length - Math.max(analysis.failureLimit, 10)));
        const j = judge(recent, limits);
        if (j.verdict !== 'failed') return null;
        return checkResult({ ...monitor, startedAt: new Date(startedAt).toISOString(), taken, recent }, 'failed', j.reason);
      },
    };
  }

  /** The worker's credential issuer; a plan naming one on a worker without it is refused in PLANNING. */
  function issuerOf(): CredentialIssuer {
    if (!deps.issuer) {
      throw new RotorError(
        'RotorInputError',
        "the plan's value comes from a credential issuer, but this worker has none; set ROTOR_ISSUER_URL and ROTOR_ISSUER_TOKEN on the worker (docs/issuer-protocol.md), or use another value source",
      );
    }
    return deps.issuer;
  }

  /** What the issuer knows of `id`; a 404 is `unknown`, any other error is thrown. */
  async function credentialOf(id: string, read: (id: string) => Promise<IssuedCredential>): Promise<CredentialOutcome> {
    try {
      const c = await read(id);
      return { id, state: c.state, issuedAt: c.issuedAt || null, revokedAt: c.revokedAt };
    } catch (err) {
      if (err instanceof RotorError && err.type === 'NotFound') return { id, state: 'unknown', issuedAt: null, revokedAt: null };
      throw err;
    }
  }

  /** The provider a stage's analysis names; one this worker lacks makes every measurement an error, never a pass. */
  function providerFor(name: MetricsProvider): MetricProvider {
    const provider = deps.metrics[name];
    if (!provider) {
      const has = Object.keys(deps.metrics).join(', ') || 'none';
      throw new RotorError(
        'ProviderError',
        `no ${name} provider is configured on this worker (it has: ${has}); plans without analysis are checked by rollout health only`,
      );
    }
    return provider;
  }

  /** store external-secrets: the version's ExternalSecret, pinned to the store's exact version of the value. */
  function createExternal(store: SecretStorePort, spec: Omit<ExternalVersionSpec, 'secretStoreRef' | 'remoteRef'>, target?: StoreTarget, versionId?: string) {
    const secretStoreRef = target?.externalSecrets?.secretStoreRef;
    if (!secretStoreRef || !store.remoteRef) {
      throw new RotorError(
        'RotorInputError',
        "store external-secrets needs the plan's externalSecrets: { secretStoreRef: { name, kind } } and awsSecretsManager",
      );
    }
    return externalCluster().createExternalVersion({
      ...spec,
      secretStoreRef,
      remoteRef: store.remoteRef({ version: spec.name, target, ...(versionId ? { versionId } : {}) }),
    });
  }

  function externalCluster(): Required<Pick<ClusterPort, 'createExternalVersion' | 'externalVersionState' | 'checkExternalSecretStore'>> {
    const { createExternalVersion, externalVersionState, checkExternalSecretStore } = cluster;
    if (!createExternalVersion || !externalVersionState || !checkExternalSecretStore) {
      throw new RotorError('RotorInputError', "this worker's cluster adapter cannot create ExternalSecrets; run the worker against a Kubernetes cluster");
    }
    return {
      createExternalVersion: createExternalVersion.bind(cluster),
      externalVersionState: externalVersionState.bind(cluster),
      checkExternalSecretStore: checkExternalSecretStore.bind(cluster),
    };
  }

  /**
   * Until External Secrets Operator has written every namespace's Secret (heartbeating), then that
   * each holds exactly the value staged in the store: the pinned version, not whatever is current.
   */
  async function externalVersionsReady(namespaces: string[], version: string, staged: SecretData): Promise<void> {
    const eso = externalCluster();
    const waitMs = deps.externalSecretReadyMs ?? EXTERNAL_SECRET_READY_MS;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const states = await Promise.all(namespaces.map((ns) => eso.externalVersionState(ns, version)));
      const waiting = states.filter((s) => !s.ready);
      if (!waiting.length) break;
      if (Date.now() >= deadline) {
        // The operator said why (it retries a failed sync itself): a retry here would only wait again.
        // No word from it at all (not running, or behind): worth another attempt.
        const judged = waiting.every((s) => s.judged);
        throw new RotorError(
          judged ? 'NotFound' : 'Unavailable',
          `External Secrets Operator has not written ${version} after ${waitMs / 1000} s: ${waiting.map((s) => s.message).join('; ')}; see \`kubectl describe externalsecret ${version} -n <namespace>\` and the store's status`,
        );
      }
      await pace(1_000, { waiting: waiting.length });
    }
    for (const namespace of namespaces) {
      const written = await cluster.readVersion(namespace, version);
      if (!written || !sameData(written.data, staged)) {
        throw new RotorError(
          'VersionContentMismatch',
          `the Secret ${namespace}/${version} External Secrets Operator wrote does not hold the value rotor staged in the store (keys: ${
            Object.keys(written?.data ?? {})
              .sort()
              .join(', ') || 'none'
          }); check the ExternalSecret's store and its region`,
          `Secret ${namespace}/${version}`,
        );
      }
    }
  }

  /** Every activity: alive to the server while it runs, logged by step, its errors typed for the workflow. */
  async function guarded<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await liveStep(log, doing, fn);
    } catch (err) {
      if (!activityContext()) log(`failed: ${doing}`, { error: err instanceof Error ? err.message : String(err) });
      throw toActivityFailure(err, doing);
    }
  }

  return {
    claimRotation: (input) =>
      guarded(`claim the rotation of ${input.secret}`, async () => {
        const holder = input.qualify ? qualifiedHolder(await deployment(), input.holder) : input.holder;
        const claimed: string[] = [];
        const refused: ClaimResult['refused'] = [];
        // In one order for every rotation, so two racing for the same namespaces meet at the first.
        const releaseClaimed = async () => {
          for (const namespace of claimed) await cluster.releaseRotation(namespace, input.secret, holder);
        };
        try {
          for (const namespace of [...new Set(input.namespaces)].sort()) {
            let claim = await cluster.claimRotation(namespace, input.secret, holder);
            if (claim.holder !== holder && !(await running(claim.holder, claim.since))) {
              log('taking over the claim of a rotation that no longer runs', { namespace, secret: input.secret, holder: claim.holder });
              claim = await cluster.claimRotation(namespace, input.secret, holder, claim.holder);
            }
            if (claim.holder === holder) claimed.push(namespace);
            else refused.push({ namespace, holder: claim.holder, since: claim.since });
          }
        } catch (err) {
          // A namespace that cannot be claimed (missing, forbidden) leaves none held: the workflow
          // never learns the holder of a failed claim, so it could not give these up itself.
          await releaseClaimed();
          throw err;
        }
        // All or nothing: a rotation refused anywhere holds nothing.
        if (refused.length) await releaseClaimed();
        return { refused, holder };
      }),

    releaseRotation: (input) =>
      guarded(`release the rotation of ${input.secret}`, async () => {
        for (const namespace of input.namespaces) await cluster.releaseRotation(namespace, input.secret, input.holder);
      }),

    discover: (input) =>
      guarded(`discover workloads using ${input.secret}`, async () => {
        const result: DiscoveredStage[] = [];
        const refused: string[] = [];
        for (const stage of input.stages) {
          const { version: previousVersion, workloads: using } = await cluster.findCurrentUse(stage.namespace, input.secret);
          const listed = stage.workloads;
          const workloads = listed === 'auto' ? using : using.filter((w) => listed.some((l) => l.kind === w.kind && l.name === w.name));
          const unmatched = listed === 'auto' ? [] : listed.filter((l) => !using.some((w) => w.kind === l.kind && w.name === l.name));
          // A listed Job, Pod or Deployment-owned ReplicaSet that does use the version is not "missing":
          // rotor cannot switch it, and says so.
          const holders = unmatched.length && previousVersion ? await cluster.findReferences([stage.namespace], previousVersion) : [];
          const missing: string[] = [];
          for (const l of unmatched) {
            if (holders.some((h) => h.kind === l.kind && h.name === l.name)) {
              refused.push(
                `${stage.namespace}: ${l.kind}/${l.name} uses ${previousVersion} but cannot be switched (${l.kind === 'ReplicaSet' ? 'its Deployment owns its template: list the Deployment' : 'its pod template is immutable'}); remove it from the stage's workloads — it keeps ${previousVersion} until it is gone, and cleanup waits for it`,
              );
            } else missing.push(`${l.kind}/${l.name}`);
          }
          refused.push(...workloads.filter((w) => w.refusal).map((w) => `${stage.namespace}: ${w.refusal}`));
          // What the previous version's Secret says of its credential, store version and copies.
          const record = previousVersion ? await cluster.readVersionRecord(stage.namespace, previousVersion) : null;
          const previousIdentity = record ? { credentialId: record.credentialId, storeVersionId: record.storeVersionId, copies: record.copies } : undefined;
          // The type the new version keeps (metadata and type only: the previous value is not read here).
          const previousType = previousVersion ? await cluster.readVersionType(stage.namespace, previousVersion) : null;
          // Nothing in use: say whether the namespace, or the Secret, is missing, so the plan can be corrected.
          const namespaceExists = previousVersion ? true : await cluster.namespaceExists(stage.namespace);
          const absence = previousVersion
            ? undefined
            : { namespaceExists, secretExists: namespaceExists !== false && (await cluster.readVersionType(stage.namespace, input.secret)) !== null };
          result.push({
            namespace: stage.namespace,
            previousVersion,
            workloads: workloads.map(({ refusal: _, ...w }) => w),
            missing,
            ...(previousIdentity ? { previousIdentity } : {}),
            ...(previousType ? { previousType } : {}),
            ...(absence ? { absence } : {}),
          });
        }
        // Refused in PLANNING, so nothing changes for a workload rotor could not honestly roll out.
        if (refused.length) throw new RotorError('RotorInputError', `rotor will not switch ${refused.length} workload(s): ${refused.join('; ')}`);
        return result;
      }),

    createVersion: (input: CreateVersionInput) =>
      guarded(`create ${input.version}`, async () => {
        const store = storeFor(input.store);
        // Idempotent by version: a retry reuses the value already written, never generates another.
        let data = null;
        for (const namespace of input.namespaces) {
          const existing = await cluster.readVersion(namespace, input.version);
          if (!existing) continue;
          if (existing.rotationId !== input.rotationId) return { outcome: 'conflict' as const, owner: existing.rotationId ?? 'an unknown creator' };
          data = existing.data;
          break;
        }
        const reused = data !== null;
        // The value must be of use as the type the version keeps: judged before it is staged or written anywhere.
        const type = input.type ?? OPAQUE;
        const check = (value: SecretData) => checkSecretData(type, value);
        const source = issuerSource(input.value);
        // Identities given to the outside are this rotation's alone: two rotations that chose the same
        // version name (same second, another namespace or deployment) never share a credential or a
        // store version, and an "already issued" answer under this id can only be an earlier attempt's.
        const credentialId = input.uniqueIds ? credentialIdOf(input.version, input.rotationId) : input.version;
        const versionId = input.uniqueIds ? store.versionIdFor?.(input.version, input.rotationId) : undefined;
        const staging = { secret: input.secret, version: input.version, value: input.value, target: input.target, ...(versionId ? { versionId } : {}) };
        let credential: CredentialOutcome | undefined;
        if (source && reused) {
          // An earlier attempt issued it and wrote the Secret: say what the issuer holds, issue nothing.
          credential = await credentialOf(credentialId, (id) => issuerOf().status(id));
        } else if (source) {
          // Issued under the rotation's own id: a retry after a lost answer gets the same credential back.
          const issued = await issuerOf().issue({ id: credentialId, ...(source.scope ? { scope: source.scope } : {}) });
          credential = { id: credentialId, state: 'active', issuedAt: issued.issuedAt || null, revokedAt: null, created: issued.created };
          data = await store.stageVersion({ ...staging, issued: { [source.key]: issued.token }, check });
        }
        data ??= await store.stageVersion({ ...staging, check });
        check(data);
        let created = false;
        // Where else the version is kept, written on each copy for `rotor versions`.
        const aws = input.store !== 'kubernetes' ? input.target?.awsSecretsManager : undefined;
        const kept = aws ? { kind: input.store, secretId: aws.secretId, ...(aws.region ? { region: aws.region } : {}) } : undefined;
        // On each copy: its identities outside, and every namespace it was copied to (whatever plan retires it later).
        const identity = input.uniqueIds
          ? { credentialId: source ? credentialId : null, storeVersionId: versionId ?? null, copies: [...new Set(input.namespaces)].sort() }
          : undefined;
        for (const namespace of input.namespaces) {
          const spec = {
            namespace,
            name: input.version,
            base: input.secret,
            rotationId: input.rotationId,
            ...(kept ? { store: kept } : {}),
            ...(identity ? { identity } : {}),
            ...(input.type ? { type: input.type } : {}),
          };
          try {
            const outcome =
              input.store === 'external-secrets' ? await createExternal(store, spec, input.target, versionId) : await cluster.createVersion({ ...spec, data });
            created ||= outcome === 'created';
          } catch (err) {
            if (err instanceof RotorError && err.type === 'VersionConflict') return { outcome: 'conflict' as const, owner: err.object ?? 'another rotation' };
            throw err;
          }
        }
        if (input.store === 'external-secrets') await externalVersionsReady(input.namespaces, input.version, data);
        log('version created', { version: input.version, namespaces: input.namespaces, reused });
        return {
          outcome: created ? ('created' as const) : ('exists' as const),
          namespaces: input.namespaces,
          keys: Object.keys(data).sort(),
          ...(credential ? { credential } : {}),
          ...(versionId ? { storeVersionId: versionId } : {}),
        };
      }),

    switchWorkloads: (input) => guarded(`switch workloads in ${input.namespace} to ${input.to}`, () => cluster.switchWorkloads(input)),

    revertWorkloads: (input) => guarded(`revert workloads in ${input.namespace} to ${input.to}`, () => cluster.revertWorkloads(input)),

    completeCanary: (input) =>
      guarded(`complete the canary in ${input.namespace}`, () => cluster.completeCanary(input.namespace, input.records, input.version)),

    waitForRollout: (input: RolloutInput) =>
      guarded(`wait for rollout in ${input.namespace}`, async () => {
        const ctx = Context.current();
        const startedAt = (ctx.info.heartbeatDetails as { startedAt?: number } | undefined)?.startedAt ?? Date.now();
        const during = input.analysis ? analysisDuringRollout(input, input.analysis, startedAt) : null;
        for (;;) {
          const state = await cluster.rolloutState(input.namespace, input.workloads, input.version);
          if (state.ready) return { ready: true, message: state.message, elapsedMs: Date.now() - startedAt };
          if (state.failed) return { ready: false, message: state.message };
          if (Date.now() - startedAt >= input.timeoutMs) {
            return { ready: false, message: `not ready after ${Math.round(input.timeoutMs / 1000)} s: ${state.message}` };
          }
          const check = await during?.measureIfDue();
          if (check) return { ready: false, message: `the analysis failed while the rollout went on (${state.message}): ${check.reason}`, check };
          await pace(Math.min(1_000, input.timeoutMs), { startedAt, message: state.message });
        }
      }),

    checkSwitched: (input) => guarded(`check the references switched to ${input.version}`, () => cluster.driftedReferences(input.records, input.version)),

    monitorAnalysis: (input: MonitorInput) =>
      guarded(`${input.check} analysis in ${input.stage}`, async () => {
        const ctx = Context.current();
        const { analysis } = input;
        const limits: AnalysisLimits = {
          threshold: analysis.threshold,
          failureLimit: analysis.failureLimit,
          inconclusiveLimit: analysis.inconclusiveLimit,
          // Analyses planned before consecutiveErrorLimit counted provider errors against inconclusiveLimit.
          errorLimit: analysis.consecutiveErrorLimit ?? analysis.inconclusiveLimit,
        };
        const keep = measurementsToKeep(limits);
        const progress: MonitorProgress = (ctx.info.heartbeatDetails as MonitorProgress | undefined) ?? {
          startedAt: new Date().toISOString(),
          recent: [],
          taken: 0,
          successful: 0,
        };
        const start = Date.parse(progress.startedAt);
        const deadline = start + input.durationMs;
        const result = (verdict: CheckResult['verdict'], reason: string) => checkResult({ ...input, ...progress }, verdict, reason);
        // Measure at the end of each interval (metrics need an interval to reflect the new version), and
        // once at the deadline when the window is shorter than an interval.
        for (;;) {
          const first = input.firstMeasurementAfterMs ?? analysis.intervalMs;
          const due = Math.min(start + first + progress.taken * analysis.intervalMs, deadline);
          await pace(due - Date.now(), progress);
          const measurement = await measureOnce(input);
          progress.taken += 1;
          if (measurement.phase === 'successful') progress.successful += 1;
          progress.recent = [...progress.recent, measurement].slice(-keep);
          reportProgress(progress);
          const j = judge(progress.recent, limits);
          if (j.verdict === 'failed') return result('failed', j.reason);
          if (due >= deadline) break;
        }
        const end = concludeAnalysis(progress.recent, limits, progress);
        return result(end.verdict, end.reason);
      }),

    scanReferences: (input) =>
      guarded(`scan references to ${input.secretName}`, () => cluster.findReferences(input.namespaces, input.secretName, { ignore: input.ignore })),

    deleteVersion: (input) =>
      guarded(`delete ${input.version}`, async () => {
        // Every namespace first: a holder anywhere keeps the version everywhere, and in the store.
        const holders = await cluster.findReferences(input.namespaces, input.version, { ignore: input.ignore });
        if (holders.length) return { deleted: false as const, holders };
        const deletedFrom: string[] = [];
        for (const namespace of input.namespaces) {
          const outcome = await cluster.deleteUnreferenced(namespace, input.version, {
            externalSecret: input.store === 'external-secrets',
            ignore: input.ignore,
          });
          if (!outcome.deleted && outcome.holders.length) return { deleted: false as const, holders: outcome.holders };
          deletedFrom.push(namespace);
        }
        // The store's version outlives every copy of the version, in any namespace, whichever plan cleans up.
        const storeKept =
          input.store === 'kubernetes'
            ? null
            : await copiesStillUsed(
                input.version,
                input.copies,
                (record) => !input.storeVersionId || !record.storeVersionId || record.storeVersionId === input.storeVersionId,
                input.ignore,
              );
        if (storeKept) log('store version kept: a copy elsewhere still needs it', { version: input.version, why: storeKept });
        else
          await storeFor(input.store).deleteVersion({
            secret: input.secret,
            version: input.version,
            target: input.target,
            ...(input.storeVersionId ? { versionId: input.storeVersionId } : {}),
          });
        log('previous version deleted', { version: input.version, namespaces: deletedFrom });
        return { deleted: true as const, namespaces: deletedFrom, ...(storeKept ? { storeKept } : {}) };
      }),

    finalizeVersion: (input) =>
      guarded(`mark ${input.version} ${input.outcome}`, async () => {
        const store = storeFor(input.store);
        const versionId = input.madeBy ? store.versionIdFor?.(input.version, input.madeBy) : undefined;
        const which = versionId ? { versionId } : {};
        if (input.outcome === 'committed') {
          await store.promoteVersion({ secret: input.secret, version: input.version, previousVersion: input.previousVersion, target: input.target, ...which });
        } else {
          await store.markFailed({ secret: input.secret, version: input.version, target: input.target, ...which });
        }
        // Nothing is left to undo or to report: the records of what rotor switched (or reverted) come off the workloads.
        const byNamespace = new Map<string, SwitchRecord[]>();
        for (const r of input.switched ?? []) byNamespace.set(r.namespace, [...(byNamespace.get(r.namespace) ?? []), r]);
        for (const [namespace, records] of byNamespace) await cluster.releaseWorkloads(namespace, records, input.version);
      }),

    checkStore: (input) =>
      guarded(`check the ${input.store} store`, async () => {
        const store = storeFor(input.store);
        const detail = store.check ? await store.check(input.target, input.value) : `${input.store} store ready`;
        if (input.store !== 'external-secrets') return { detail };
        const ref = input.target?.externalSecrets?.secretStoreRef;
        if (!ref) throw new RotorError('RotorInputError', "store external-secrets needs the plan's externalSecrets: { secretStoreRef: { name, kind } }");
        const expect = store.externalProvider ? await store.externalProvider(input.target) : undefined;
        return { detail: `${detail}; ${await externalCluster().checkExternalSecretStore(input.namespaces ?? [], ref, expect)}` };
      }),

    inspectCredentials: (input) =>
      guarded('ask the credential issuer', async () => {
        const issuer = issuerOf();
        const out: CredentialOutcome[] = [];
        for (const id of input.ids) out.push(await credentialOf(id, (x) => issuer.status(x)));
        return out;
      }),

    revokeCredential: (input) =>
      guarded(`revoke the credential ${input.id} at the issuer`, async () => {
        // A credential lives wherever copies of its version live: revoked only once none is used.
        const kept = input.copiesOf
          ? await copiesStillUsed(
              input.copiesOf.version,
              input.copiesOf.copies,
              (record) => (record.credentialId ?? input.id) === input.id,
              input.copiesOf.ignore,
            )
          : null;
        if (kept) {
          log('credential kept live: a copy of its version is still used', { id: input.id, why: input.why, kept });
          return { ...(await credentialOf(input.id, (id) => issuerOf().status(id))), kept };
        }
        const outcome = await credentialOf(input.id, (id) => issuerOf().revoke(id));
        log('credential revoked at the issuer', { id: input.id, why: input.why, state: outcome.state });
        return outcome;
      }),

    announce: (input) =>
      guarded(`post ${input.phase} of ${input.workflowId}`, async () => {
        const datadog = deps.metrics.datadog;
        // A worker without Datadog has nowhere to post: the status and the Web UI still tell the story.
        if (!datadog?.postEvent) return { posted: false };
        const alertType = ANNOUNCE_ALERT[input.phase] ?? 'info';
        const tags = [`rotor_secret:${input.secret}`, `rotor_phase:${input.phase.toLowerCase()}`, `rotor_workflow:${input.workflowId}`];
        if (input.stage) tags.push(`rotor_stage:${input.stage}`);
        if (input.namespace) tags.push(`env:${input.namespace}`, `kube_namespace:${input.namespace}`);
        if (input.newVersion) tags.push(`version:${input.newVersion}`);
        await datadog.postEvent({
          title: `rotor: ${input.secret} ${input.phase}${input.stage ? ` (${input.stage})` : ''}`,
          text: `${input.message}\n\nrotation ${input.workflowId}${input.newVersion ? `, new version ${input.newVersion}` : ''}`,
          tags,
          alertType,
        });
        return { posted: true };
      }),
  };
}

/** A check's verdict with its count and last five measurements, as status and the CLI show it. */
function checkResult(
  check: Pick<MonitorInput, 'stage' | 'check' | 'analysis'> & { startedAt: string; taken: number; recent: Measurement[] },
  verdict: CheckResult['verdict'],
  reason: string,
): CheckResult {
  return {
    stage: check.stage,
    check: check.check,
    verdict,
    reason,
    measurements: check.taken,
    lastValue: check.recent.at(-1)?.value ?? null,
    threshold: check.analysis.threshold,
    recent: check.recent.slice(-5),
    startedAt: check.startedAt,
    endedAt: new Date().toISOString(),
  };
}

/** How a phase shows in Datadog's event stream: a rollback or failure stands out. */
const ANNOUNCE_ALERT: Record<string, 'info' | 'success' | 'warning' | 'error'> = {
  COMPLETED: 'success',
  ROLLING_BACK: 'warning',
  ROLLED_BACK: 'warning',
  FAILED: 'error',
};
