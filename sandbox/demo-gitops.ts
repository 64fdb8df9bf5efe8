// The demo's Git mode (`npm run demo -- --gitops`), after acts a-c, on a world started with `gitops`
// (the real Git server and the real Flux source- and kustomize-controller):
//   setup: production's auth-api Deployment, as it runs now, goes into a repository (apps/production)
//      that a Flux GitRepository and Kustomization apply to production. Flux adopts the live
//      Deployment (its labels) without changing its template, so no pod restarts;
//   d) rotor with a good token, production Flux-managed: staging switched live, production by a commit
//      that Flux applies, judged by Datadog; the repository's log shows rotor's commit, and the live
//      reference was written by kustomize-controller, not rotor;
//   e) a token scoped to staging (`auth:verify@staging`, which the auth API refuses from production):
//      staging passes, production's pods fail once Flux applies the commit, Datadog's analysis fails,
//      rotor reverts its commit, Flux applies the revert, and the bad credential is revoked.
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { authServiceDeployment } from './auth-service';
import { badCredential, DEMO_DURATIONS, plan, rotorAct, type ActResult, type DemoDurations, type Say } from './demo-acts';
import type { DemoWorld } from './demo-world';
import { FLUX_NAMESPACE } from './flux';
import { logOf } from './git-server';

/** The repository production is applied from, on the world's Git server. */
export const GITOPS_REPO = 'platform';
const KUSTOMIZATION = 'apps-production';
const PATH = 'apps/production';
/** The labels Flux puts on what a Kustomization applies. */
const FLUX_LABELS = ['kustomize.toolkit.fluxcd.io/name', 'kustomize.toolkit.fluxcd.io/namespace'];
/** Where a Deployment's managedFields record who set API_TOKEN's Secret (secretKeyRef is atomic, owned whole). */
const REF_FIELD = ['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"app"}', 'f:env', 'k:{"name":"API_TOKEN"}', 'f:valueFrom', 'f:secretKeyRef'];

const production = (world: DemoWorld) => world.kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ namespace: 'production', name: 'auth-api' });
const secretOf = (d: k8s.V1Deployment) => d.spec!.template.spec!.containers[0].env![0].valueFrom!.secretKeyRef!.name!;

/** The Secret production's auth-api reads API_TOKEN from now. */
export async function productionVersion(world: DemoWorld): Promise<string> {
  return secretOf(await production(world));
}

/** Who wrote production's live reference, from its managedFields: `<manager>/<operation>` each. */
export async function referenceWriters(world: DemoWorld): Promise<string[]> {
  return ((await production(world)).metadata?.managedFields ?? [])
    .filter((m) => REF_FIELD.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], m.fieldsV1) !== undefined)
    .map((m) => `${m.manager}/${m.operation}`);
}

/** The repository's main branch, newest first, as `git log --oneline` prints it. */
async function repositoryLog(world: DemoWorld): Promise<string[]> {
  return (await logOf(world.gitops!.git.root, GITOPS_REPO, 'main')).map((line) => `${line.slice(0, 7)} ${line.slice(41)}`);
}

/** Production's Deployment, as it runs now, put in Git and handed to Flux; resolves with the repository's clone URL once Flux adopted it. */
export async function fluxManagesProduction(world: DemoWorld, say: Say): Promise<string> {
  const { git, flux } = world.gitops!;
  const before = await production(world);
  const version = secretOf(before);
  const manifest = { apiVersion: 'apps/v1', kind: 'Deployment', ...authServiceDeployment('auth-api', version, 4) };
  const url = await git.createRepository(GITOPS_REPO, {
    [`${PATH}/auth-api.yaml`]: `# production's auth API: Flux applies it (Kustomization ${FLUX_NAMESPACE}/${KUSTOMIZATION}); rotor changes its Secret reference by a commit\n${stringify(manifest)}`,
    [`${PATH}/kustomization.yaml`]: stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['auth-api.yaml'] }),
  });
  say(`git: ${url} holds ${PATH}/auth-api.yaml (production's Deployment auth-api as it runs, reading ${version}) and its kustomization.yaml`);
  await flux.createGitRepository({ name: GITOPS_REPO, url, token: git.token, interval: '3s' });
  await flux.createKustomization({ name: KUSTOMIZATION, source: GITOPS_REPO, path: `./${PATH}`, targetNamespace: 'production', interval: '3s' });
  say(`flux: GitRepository ${FLUX_NAMESPACE}/${GITOPS_REPO} and Kustomization ${FLUX_NAMESPACE}/${KUSTOMIZATION}, every 3 s, apply ${PATH} to production`);
  const applied = await flux.waitForKustomization(FLUX_NAMESPACE, KUSTOMIZATION, (s) => s.lastAppliedRevision !== null, 120_000);
  const after = await production(world);
  const labels = FLUX_LABELS.map((l) => `${l}=${after.metadata?.labels?.[l] ?? '(none)'}`);
  if (!FLUX_LABELS.every((l) => after.metadata?.labels?.[l]))
    throw new Error(`Flux applied ${applied.lastAppliedRevision} but production's Deployment lacks its labels: ${labels.join(', ')}`);
  // Adopted, not changed: a different template would have restarted every pod.
  if (after.metadata?.generation !== before.metadata?.generation) {
    throw new Error(
      `Flux changed production's Deployment (generation ${before.metadata?.generation} -> ${after.metadata?.generation}): the manifest in Git is not what runs`,
    );
  }
  say(
    `flux applied ${applied.lastAppliedRevision} and adopted Deployment auth-api (${labels.join(', ')}); its template is unchanged (generation ${after.metadata?.generation}), so no pod restarted`,
  );
  return url;
}

/** The plan of acts b and c, production a rolling stage that Flux applies (a commit), judged by Datadog through the rollout and after it. */
function gitPlan(d: DemoDurations, repo: string, scope?: string): Record<string, unknown> {
  const document = plan(d, scope);
  const [staging, prod] = document.stages as Record<string, unknown>[];
  return {
    ...document,
    stages: [staging, { ...prod, strategy: 'rolling', analysis: { ...(prod.analysis as object), verify: d.interval } }],
    gitops: { repo, path: PATH, syncTimeout: '2m' },
  };
}

/** Act d: a good token, production switched by rotor's commit and Flux's apply. */
export async function actGitGood(world: DemoWorld, repo: string, say: Say, d: DemoDurations = DEMO_DURATIONS): Promise<ActResult> {
  const r = await rotorAct(world, say, { act: 'd', title: 'rotor + Flux, good token (production by a commit)', document: gitPlan(d, repo) });
  say(`d) ${r.workflowId}: ${r.status.phase}; production's Deployment reads ${await productionVersion(world)}`);
  say(`d) $ git log --oneline (${GITOPS_REPO}, main)`);
  for (const line of await repositoryLog(world)) say(`  ${line}`);
  say(
    `d) production's live reference was last written by ${(await referenceWriters(world)).join(', ')} (managedFields): Flux applied rotor's commit, rotor never patched it`,
  );
  say(`d) from Prometheus: ${r.failed} of ${r.requests} requests failed (${r.failedInProduction} in production)`);
  return r;
}

/** Act e: a token valid only in staging. Production fails once Flux applies the commit; the rollback is a revert commit. */
export async function actGitBad(world: DemoWorld, repo: string, say: Say, d: DemoDurations = DEMO_DURATIONS): Promise<ActResult> {
  const r = await rotorAct(world, say, {
    act: 'e',
    title: 'rotor + Flux, token scoped to staging (revert commit)',
    document: gitPlan(d, repo, 'auth:verify@staging'),
    recover: { production: 4 },
    badSwitch: (e) => e.stage === 'production' && /^committed [0-9a-f]{7} to /.test(e.message),
  });
  say(
    `e) ${r.workflowId}: ${r.status.phase}; issuer: ${badCredential(world, r.status)}; production's Deployment reads ${await productionVersion(world)} again`,
  );
  say(`e) $ git log --oneline -3 (${GITOPS_REPO}, main)`);
  for (const line of (await repositoryLog(world)).slice(0, 3)) say(`  ${line}`);
  say(
    `e) from Prometheus: ${r.failed} of ${r.requests} requests failed (${r.failedInProduction} in production, ${r.failed - r.failedInProduction} in staging)`,
  );
  return r;
}
