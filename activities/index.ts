// createActivities(deps): the workflow's activities over the ports. The worker passes real adapters;
// tests of the workflow may pass doubles of these functions instead. Only wiring here: each concern
// is its own module.
//   claiming.ts          the claim on a rotation, and taking over one whose holder no longer runs
//   workloads.ts         discover, switch, revert, the canary's end, the rollout wait, reference scans
//   versions.ts          create, finalize and delete a version; the PLANNING check of its store
//   external-versions.ts store external-secrets: the version's ExternalSecret, and the wait for its Secret
//   issuing.ts           the credential issuer: issue, ask, revoke
//   copies.ts            whether any copy of a version is still used, in any namespace
//   analysis-loop.ts     a stage's analysis: one measurement, the loop that judges, during a rollout
//   announcing.ts        phase changes posted to Datadog's event stream
//   notifying.ts         notifications: a plan's sinks checked, one delivery attempt (notify/: the sinks)
//   gitops.ts            Git mode: a stage's switch as a commit, its rollback as a revert, the wait for the controller
//   windows.ts           change windows: whether a stage may start a change now, and when it next may
//   preflight.ts         pre-flight checks: the new version tested by an HTTP call or a Job before a stage switches
//   kit.ts               what each is built from: the deps, the log, guarded
import type { RotorActivities } from '../contract/activities';
import { analysisActivities } from './analysis-loop';
import { announcingActivities } from './announcing';
import { claimingActivities } from './claiming';
import { notifyingActivities } from './notifying';
import { gitopsActivities } from './gitops';
import { issuingActivities } from './issuing';
import { activityKit } from './kit';
import type { RotorDeps } from './ports';
import { versionActivities } from './versions';
import { windowActivities } from './windows';
import { preflightActivities } from './preflight';
import { workloadActivities } from './workloads';

export type { RotorActivities } from '../contract/activities';
export * from './ports';
export * from '../contract/activities';

export function createActivities(deps: RotorDeps): RotorActivities {
  const kit = activityKit(deps);
  return {
    ...claimingActivities(kit),
    ...workloadActivities(kit),
    ...versionActivities(kit),
    ...analysisActivities(kit),
    ...issuingActivities(kit),
    ...announcingActivities(kit),
    ...gitopsActivities(kit),
    ...windowActivities(),
    ...preflightActivities(kit),
    ...notifyingActivities(kit),
  };
}
