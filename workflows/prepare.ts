// Before anything is switched: claim the secret in the plan's namespaces, find what uses it
// (PLANNING), create the new version (CREATING). Nothing here changes a workload.
import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';
import type { ClaimInput, ClaimResult, DiscoveredStage, DiscoverInput } from '../contract/activities';
import { claimName, credentialIdOf, parseHolder, versionName } from '../domain/naming';
import { discoveryProblems, secretTypeVerdict } from '../domain/planning';
import { OPAQUE, planSecretType } from '../domain/secret-types';
import { inspectIssuer, recordIssued, revoke, revokeByHand, usesIssuer } from './issuer';
import { acts, describeError, quick, scanning } from './options';
import type { Rotation } from './state';
import { externalSecretsThroughGit, gitMode, planGit } from './gitops';
import { planWindows } from './windows';

/** Attempts at a fresh version name when another rotation took the same second. */
const NAME_ATTEMPTS = 5;

/**
 * One rotation of a Secret per namespace; the holder is the workflow id, so the claim outlives
 * continue-as-new. Once claimed, the holder the claims carry (qualified with the Temporal deployment).
 */
function claimOf(r: Rotation): ClaimInput {
  const { plan, info, status } = r;
  return {
    secret: plan.secret,
    namespaces: [...new Set(plan.stages.map((s) => s.namespace))],
    holder: status.claimedAs ?? `${info.namespace}/${info.workflowId}`,
  };
}

/** A claim's holder as an operator reads it: the workflow id, and whose deployment when it is not ours. */
function describeHolder(holder: string, ours: string | undefined): string {
  const parsed = parseHolder(holder);
  if (!parsed) return holder;
  const mine = ours ? parseHolder(ours) : null;
  if (parsed.deployment === null) return `${parsed.workflowId}, claimed by an older rotor in Temporal namespace ${parsed.namespace}`;
  if (mine && mine.deployment !== parsed.deployment)
    return `${parsed.workflowId} of another rotor deployment (Temporal cluster ${parsed.deployment}, namespace ${parsed.namespace})`;
  return parsed.namespace === mine?.namespace ? parsed.workflowId : `${parsed.workflowId} in Temporal namespace ${parsed.namespace}`;
}

/** Claim every namespace of the plan, or end FAILED naming the rotation that holds one. */
export async function claim(r: Rotation): Promise<void> {
  const { plan } = r;
  // The holder names this Temporal deployment, so two rotor deployments never take each other's claims.
  const input = { ...claimOf(r), qualify: true };
  let result: ClaimResult;
  try {
    result = await acts.claimRotation.executeWithOptions({ ...quick, summary: `claim the rotation of ${plan.secret} in ${input.namespaces.join(', ')}` }, [
      input,
    ]);
  } catch (err) {
    await release(r); // whatever the failed attempt claimed
    r.fail(`could not claim the rotation of ${plan.secret} (nothing was changed): ${describeError(err)}`);
  }
  const { refused } = result;
  if (refused.length) {
    const who = refused.map((x) => `${x.namespace} (${describeHolder(x.holder, result.holder)}${x.since ? `, since ${x.since}` : ''})`).join(', ');
    const legacy = refused.some((x) => parseHolder(x.holder)?.deployment === null);
    r.fail(
      `another rotation of ${plan.secret} is in progress in ${who}; nothing was changed — wait for it to end or stop it with \`rotor abort <id> --reason ...\`, then start again${
        legacy
          ? `; a claim written by an older rotor is never taken over, since it does not say which deployment made it: once you know that rotation has ended, remove it with \`kubectl delete lease ${claimName(plan.secret)} -n <namespace>\``
          : ''
      }`,
    );
  }
  if (result.holder && result.holder !== input.holder) r.status.claimedAs = result.holder;
  r.record(`claimed the rotation of ${plan.secret} in ${input.namespaces.join(', ')}${r.status.claimedAs ? ` as ${r.status.claimedAs}` : ''}`);
}

/** Give the claim up; harmless if it fails: the next rotation takes over a claim whose workflow no longer runs. */
export async function release(r: Rotation): Promise<void> {
  try {
    await CancellationScope.nonCancellable(() =>
      acts.releaseRotation.executeWithOptions({ ...quick, summary: `release the rotation of ${r.plan.secret}` }, [claimOf(r)]),
    );
  } catch (err) {
    r.record(`could not release the claim on ${r.plan.secret} (${describeError(err)}); the next rotation takes it over`);
  }
}

/** What PLANNING asks the cluster: each stage's namespace and the workloads the plan lists. */
function discoverInput(r: Rotation): DiscoverInput {
  const { plan } = r;
  const git = gitMode(r);
  return {
    secret: plan.secret,
    stages: plan.stages.map((s) => ({ name: s.name, namespace: s.namespace, workloads: s.workloads, ...(git && s.gitops ? { throughGit: true } : {}) })),
  };
}

/** Why the discovered stages leave nothing to rotate: one sentence per cause, each naming the fix. */
function problemsOf(r: Rotation, discovered: DiscoveredStage[]): string[] {
  return discoveryProblems(r.plan.secret, r.plan.stages, discovered);
}

/**
 * Before the claim: the plan's namespaces and Secret exist and something uses it, so a plan that cannot
 * run here fails naming the cause without taking (or leaving) a claim. PLANNING asks again once claimed.
 */
export async function precheck(r: Rotation): Promise<void> {
  const { plan } = r;
  let found: DiscoveredStage[];
  try {
    found = await acts.discover.executeWithOptions(
      { ...scanning, summary: `check that ${plan.secret} exists and is used in ${[...new Set(plan.stages.map((s) => s.namespace))].join(', ')}` },
      [discoverInput(r)],
    );
  } catch (err) {
    r.fail(`could not discover workloads (nothing was changed): ${describeError(err)}`);
  }
  const problems = problemsOf(r, found);
  if (problems.length) r.fail(`nothing to rotate (nothing was changed): ${problems.join('; ')}`);
}

/** PLANNING: resolve the current version and every workload that uses it; nothing changes yet. */
export async function discover(r: Rotation): Promise<void> {
  const { plan, status } = r;
  try {
    r.discovered = await acts.discover.executeWithOptions({ ...scanning, summary: `discover workloads using ${plan.secret}` }, [discoverInput(r)]);
  } catch (err) {
    r.fail(`could not discover workloads (nothing was changed): ${describeError(err)}`);
  }
  const problems = problemsOf(r, r.discovered);
  plan.stages.forEach((stage, i) => {
    const found = r.discovered[i];
    status.previousVersions[stage.namespace] = found.previousVersion;
    r.record(
      `${stage.namespace}: ${found.workloads.length} workload(s) use ${found.previousVersion ?? 'nothing'}: ${found.workloads.map((w) => `${w.kind}/${w.name}`).join(', ')}`,
    );
  });
  status.previousVersion = r.discovered[0]?.previousVersion ?? null;
  // What each previous version's Secret says of its credential, store version and copies, for cleanup.
  for (const found of r.discovered) {
    if (found.previousVersion && found.previousIdentity && !status.previousIdentities?.[found.previousVersion]) {
      status.previousIdentities = { ...status.previousIdentities, [found.previousVersion]: found.previousIdentity };
    }
  }
  if (problems.length) r.fail(`nothing to rotate (nothing was changed): ${problems.join('; ')}`);
  keepSecretType(r);
  await planGit(r);
  await planWindows(r);
  if (plan.store !== 'kubernetes') await checkStore(r);
  if (usesIssuer(r)) await inspectIssuer(r);
}

/**
 * PLANNING: the new version keeps the previous versions' Secret type (a docker config created as Opaque
 * is ignored by the kubelet); previous versions of different types, or a value source that cannot make
 * that type, are refused before anything is created. Values read from a file or a store are judged
 * when read, in CREATING, before anything is written.
 */
function keepSecretType(r: Rotation): void {
  const verdict = secretTypeVerdict(r.discovered, r.plan.value);
  if ('refusal' in verdict) r.fail(verdict.refusal);
  if (verdict.type !== OPAQUE) r.record(`the new version keeps the Secret type ${verdict.type}`);
}

/** The type the new version is created with: the previous versions' (absent: Opaque, as before rotor kept types). */
function newVersionType(r: Rotation): string | undefined {
  const planned = planSecretType(r.discovered);
  return 'type' in planned ? planned.type : undefined;
}

/** PLANNING: a store outside the cluster is served by this worker and answers, or nothing is created. */
async function checkStore(r: Rotation): Promise<void> {
  const { plan } = r;
  try {
    const { detail } = await acts.checkStore.executeWithOptions({ ...quick, summary: `check the ${plan.store} store` }, [
      {
        store: plan.store,
        ...(plan.target ? { target: plan.target } : {}),
        ...(plan.store === 'external-secrets' ? { namespaces: plan.stages.map((s) => s.namespace) } : {}),
        value: plan.value,
      },
    ]);
    r.record(`store: ${detail}`);
  } catch (err) {
    r.fail(`the ${plan.store} store cannot be used (nothing was changed): ${describeError(err)}`);
  }
}

/** CREATING: the value is generated or read inside the activity; only its name passes through here. */
export async function create(r: Rotation): Promise<void> {
  const { plan, status } = r;
  r.enter('CREATING', null, `creating the new version of ${plan.secret}`);
  let candidate: string | null = null;
  const type = newVersionType(r);
  // Git mode: an ExternalSecret the controller applies takes up to its stage's syncTimeout on top.
  const viaGit = externalSecretsThroughGit(r);
  const applyMs = Math.max(0, ...viaGit.map((g) => g.syncTimeoutMs));
  const viaGitTimeout = viaGit.length ? { startToCloseTimeout: applyMs + 2 * 60_000 } : {};
  try {
    for (let attempt = 1; ; attempt++) {
      const version = versionName(plan.secret, new Date());
      candidate = version;
      const created = await CancellationScope.nonCancellable(() =>
        acts.createVersion.executeWithOptions(
          { ...quick, ...viaGitTimeout, summary: `create ${version} in ${plan.stages.map((s) => s.namespace).join(', ')}` },
          [
            {
              secret: plan.secret,
              version,
              rotationId: r.rotationId,
              value: plan.value,
              store: plan.store,
              ...(plan.target ? { target: plan.target } : {}),
              namespaces: plan.stages.map((s) => s.namespace),
              uniqueIds: true,
              ...(type ? { type } : {}),
              ...(viaGit.length ? { throughGit: viaGit } : {}),
            },
          ],
        ),
      );
      if (created.outcome !== 'conflict') {
        status.newVersion = candidate;
        for (const c of created.commits ?? []) r.record(`committed ${c} (the ExternalSecret of ${candidate})`);
        if (created.credential && created.credential.id !== candidate) status.newCredential = created.credential.id;
        recordIssued(r, created.credential);
        r.record(
          `${created.outcome === 'created' ? 'created' : 'found already created'} ${candidate} (keys: ${created.keys.join(', ')}) in ${created.namespaces.join(', ')}`,
        );
        return;
      }
      r.record(`${candidate} already belongs to ${created.owner}; taking the next second`);
      // Its name (and any credential under it) is the other rotation's: never revoked from here.
      candidate = null;
      if (attempt >= NAME_ATTEMPTS) throw new Error(`no free version name after ${NAME_ATTEMPTS} attempts`);
      await sleep(1_000, { summary: `${version} is taken: try the next second` });
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    // A credential issued for a version that was never written is live and unused: revoke it.
    if (candidate && usesIssuer(r)) {
      try {
        await CancellationScope.nonCancellable(() => revoke(r, credentialOf(r, candidate!), 'creation failed'));
      } catch (revokeErr) {
        r.status.leftovers.push(
          `issuer: could not revoke ${credentialOf(r, candidate)} (${describeError(revokeErr)}); ${revokeByHand(credentialOf(r, candidate))}`,
        );
      }
    }
    // A value staged in a store outside the cluster (AWSPENDING) must not wait there for a promotion that never comes.
    if (candidate && plan.store !== 'kubernetes') await discardStaged(r, candidate);
    r.fail(`could not create the new version (no workload was switched): ${describeError(err)}`);
  }
}

/** After a failed CREATING: the store forgets the candidate it may have staged; what cannot be undone is a leftover. */
async function discardStaged(r: Rotation, version: string): Promise<void> {
  const { plan, status } = r;
  const namespaces = plan.stages.map((s) => s.namespace);
  try {
    await CancellationScope.nonCancellable(() =>
      acts.finalizeVersion.executeWithOptions({ ...quick, summary: `mark ${version} failed in the ${plan.store} store` }, [
        {
          secret: plan.secret,
          version,
          previousVersion: status.previousVersion,
          store: plan.store,
          ...(plan.target ? { target: plan.target } : {}),
          namespaces,
          outcome: 'failed',
          madeBy: r.rotationId,
        },
      ]),
    );
    r.record(`store: ${version} marked failed (nothing staged for it stays pending)`);
  } catch (err) {
    const secretId = plan.target?.awsSecretsManager?.secretId ?? plan.secret;
    status.leftovers.push(
      `store: could not mark ${version} failed (${describeError(err)}); AWSPENDING may still be on its version of ${secretId}: see \`aws secretsmanager describe-secret --secret-id ${secretId}\` and remove it with update-secret-version-stage --remove-from-version-id`,
    );
  }
  if (plan.store === 'external-secrets') {
    status.leftovers.push(
      `external-secrets: no workload refers to ${version}; its ExternalSecret may remain in ${namespaces.join(', ')}: \`kubectl delete externalsecret ${version} -n <namespace>\``,
    );
  }
}

/** The issuer's id of this rotation's credential for `version`: its own, never another rotation's. */
function credentialOf(r: Rotation, version: string): string {
  return credentialIdOf(version, r.rotationId);
}
