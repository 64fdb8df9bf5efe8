// RETAINING and CLEANING_UP: keep the previous version for the retention time, then delete it in
// each namespace (and the store) once a scan of every namespace finds nothing that still uses it;
// otherwise report the holders and scan again. The only wait that can last indefinitely, so a run
// continues as new when its history reaches the budget, carrying its state (and any abort).
import { allHandlersFinished, condition, continueAsNew, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { Holder } from '../contract/activities';
import type { RotationStatus } from '../contract/api';
import { formatDuration } from '../domain/duration';
import { previousCredential, revoke, revokeByHand, usesIssuer } from './issuer';
import { acts, describeError, scanning } from './options';
import { gitHolders, removeVersionFromGit, restoreVersionInGit } from './gitops';
import { scanSettings } from './scan-settings';
import { notifyCleanupBlocked } from './notify';
import type { RotationInput } from '../contract/api';
import type { Rotation } from './state';

/** Events a run may reach before cleanup continues as new; the bound asked of a run is 300. */
const HISTORY_BUDGET = 200;
/** Consecutive cleanup rounds that end in an error before the rotation reports FAILED with what is left. */
const CLEANUP_ERROR_ROUNDS = 3;

/** RETAINING: one timer, cut short only by an abort (which keeps the previous version). */
export async function retain(r: Rotation): Promise<void> {
  r.enter('RETAINING', null, `keeping ${r.status.previousVersion} for ${formatDuration(r.plan.retentionMs)}`);
  r.noteWaitEnds(r.plan.retentionMs);
  await condition(() => r.aborted() !== null, r.plan.retentionMs, {
    summary: `retention: keep ${r.status.previousVersion} for ${formatDuration(r.plan.retentionMs)}, then clean up`,
  });
}

export async function cleanUp(r: Rotation, cleanupScans: number): Promise<RotationStatus> {
  const { plan, status, input } = r;
  // Each namespace retires the version it used before (usually the same name everywhere).
  const pending = new Map<string, string[]>();
  for (const { namespace } of plan.stages) {
    const version = status.previousVersions[namespace];
    if (version && !status.cleaned.includes(namespace)) pending.set(version, [...(pending.get(version) ?? []), namespace]);
  }
  const retired = () => [...new Set(plan.stages.map((s) => status.previousVersions[s.namespace]).filter((v): v is string => !!v))].join(', ');
  let failedRounds = 0;
  const revoking = usesIssuer(r);
  const revoked: string[] = [];
  for (let scans = cleanupScans; ; scans++) {
    if (r.aborted()) break;
    r.enter(
      'CLEANING_UP',
      null,
      pending.size
        ? `scanning every namespace for workloads that still use ${[...pending.keys()].join(', ')}`
        : `revoking ${status.revokePending.join(', ')} at the issuer`,
    );
    const holders: Holder[] = [];
    try {
      for (const [version, namespaces] of pending) {
        let found: Holder[] = await acts.scanReferences.executeWithOptions({ ...scanning, summary: `scan for references to ${version}` }, [
          { secretName: version, namespaces, ...scanSettings(plan), cleanup: true },
        ]);
        // Git mode: a version the branch still names is still in use, whatever the cluster shows now.
        if (found.length === 0) found = await gitHolders(r, version);
        if (found.length === 0) {
          // Git mode, store external-secrets: the ExternalSecret's file leaves Git first, or the controller would bring it back.
          const removedFromGit = await removeVersionFromGit(r, version, namespaces, scans);
          const identity = status.previousIdentities?.[version];
          const deletion = await acts.deleteVersion.executeWithOptions({ ...scanning, summary: `delete ${version} (guarded)` }, [
            {
              secret: plan.secret,
              version,
              namespaces,
              store: plan.store,
              ...(plan.target ? { target: plan.target } : {}),
              ...(identity?.storeVersionId ? { storeVersionId: identity.storeVersionId } : {}),
              ...(identity ? { copies: identity.copies } : {}),
              ...scanSettings(plan),
            },
          ]);
          if (deletion.deleted) {
            status.cleaned.push(...deletion.namespaces);
            pending.delete(version);
            r.record(`deleted ${version} from ${deletion.namespaces.join(', ')}`);
            if (deletion.storeKept) r.record(`store: ${version} kept in the ${plan.store} store: ${deletion.storeKept}`);
            // Only now, with nothing anywhere referring to it, does its credential go at the issuer.
            if (revoking && !status.revokePending.includes(version)) status.revokePending.push(version);
            continue;
          }
          found = deletion.holders;
          if (removedFromGit) await restoreVersionInGit(r, version, scans);
        }
        holders.push(...found);
      }
      // A revoke that fails is retried here at every round, and reported after CLEANUP_ERROR_ROUNDS.
      // A credential lives wherever copies of its version live: one still used elsewhere stays live,
      // and the rotation that retires its last copy revokes it.
      for (const version of [...status.revokePending]) {
        const id = previousCredential(r, version);
        const copies = status.previousIdentities?.[version]?.copies ?? null;
        const state = await revoke(r, id, 'cleanup', { version, copies });
        if (state !== 'unknown' && state !== 'kept') revoked.push(id);
        status.revokePending = status.revokePending.filter((x) => x !== version);
      }
      failedRounds = 0;
    } catch (err) {
      // An error that outlasts its retries is reported, retried at the next round, and after a few
      // rounds ends the rotation in FAILED with what was left, never as a bare workflow failure.
      if (isCancellation(err)) throw err;
      failedRounds += 1;
      const left = [
        ...[...pending].map(
          ([version, namespaces]) =>
            `${version} is still in ${namespaces.join(', ')}; delete it by hand once nothing refers to it (\`rotor versions ${plan.secret} -n <namespace>\` shows who does)`,
        ),
        ...status.revokePending.map((v) => `issuer: ${v} is deleted in the cluster but still live at the issuer; ${revokeByHand(previousCredential(r, v))}`),
      ];
      if (failedRounds >= CLEANUP_ERROR_ROUNDS) {
        status.leftovers.push(...left);
        return r.fail(`cleanup failed ${failedRounds} rounds in a row (${describeError(err)}); ${status.newVersion} is current everywhere`);
      }
      r.record(`cleanup round failed (${describeError(err)}); trying again in ${formatDuration(plan.cleanupRecheckMs)}`);
    }
    if (pending.size === 0 && status.revokePending.length === 0) {
      status.holders = [];
      const atIssuer = revoked.length ? `; ${revoked.join(', ')} revoked at the issuer` : '';
      status.outcome = `completed: ${status.newVersion} is current; ${retired()} deleted from ${status.cleaned.join(', ')}${atIssuer}`;
      r.enter('COMPLETED', null, `${status.newVersion} is current; ${retired()} deleted${atIssuer}`);
      return status;
    }
    if (failedRounds === 0 && pending.size > 0) {
      status.holders = holders;
      const named = holders.map((h) => `${h.kind}/${h.name} in ${h.namespace}`);
      r.record(`${[...pending.keys()].join(', ')} still used by ${named.join(', ')}; scanning again in ${formatDuration(plan.cleanupRecheckMs)}`);
      notifyCleanupBlocked(r, named);
    }
    r.noteWaitEnds(plan.cleanupRecheckMs);
    await condition(() => r.aborted() !== null, plan.cleanupRecheckMs, {
      summary: pending.size
        ? `scan again for ${[...pending.keys()].join(', ')} in ${formatDuration(plan.cleanupRecheckMs)}`
        : `revoke ${status.revokePending.join(', ')} at the issuer again in ${formatDuration(plan.cleanupRecheckMs)}`,
    });
    if (r.aborted()) break;
    if (workflowInfo().historyLength >= (input.historyBudget ?? HISTORY_BUDGET) || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (r.aborted()) break;
      r.record(`continuing as new after ${workflowInfo().historyLength} history events`);
      // The abort travels with the state, so an abort that raced the hand-over is honoured by the next run.
      await continueAsNew<(input: RotationInput) => Promise<RotationStatus>>({ ...input, carry: { status, cleanupScans: scans + 1, abort: r.aborted() } });
    }
  }
  const kept = [...pending.keys()].join(', ');
  // What was deleted but not yet revoked stays the operator's to finish: say so, never drop it.
  status.leftovers.push(
    ...status.revokePending.map((v) => `issuer: ${v} is deleted in the cluster but still live at the issuer; ${revokeByHand(previousCredential(r, v))}`),
  );
  status.outcome = `completed: ${status.newVersion} is current; ${kept || 'nothing'} kept (cleanup stopped by abort: ${r.aborted()?.reason})${
    status.revokePending.length ? `; still to revoke at the issuer: ${status.revokePending.join(', ')}` : ''
  }`;
  r.enter('COMPLETED', null, `cleanup stopped by abort; ${kept} kept`);
  return status;
}
