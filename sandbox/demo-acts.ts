// Over 350 lines: the acts share their plan, their figures and their table; apart they would import each other's halves.
// The demo's acts a-c, on the demo world (demo-world.ts):
//   a) the incident replayed: a new token from the incident's provider (which revokes the old one at
//      once), the Secret updated in place, `kubectl rollout restart`: pods fail until each restarts;
//   b) rotor with a good token from an overlapping provider: staging, soak, approval, production by
//      canary 10 -> 25 -> 50 -> 100 judged by Datadog, watch, retention, cleanup, then the old token
//      revoked at the issuer;
//   c) rotor with a bad token (wrong scope): staging's analysis fails, rotor rolls back by itself,
//      production is never touched, the bad token is revoked;
//   c2, c3) the same bad token, stopped before any pod gets it by a pre-flight check: an HTTP call to
//      the auth API (c2), or a Job whose pod reads the version and calls it (c3): no request fails.
// Every figure of the closing table comes from the metrics (Prometheus, which scrapes the auth API
// every second); the acts also keep the auth API's own counts, so a test can hold the two together.
// Acts d and e (`--gitops`, production applied by Flux) are in demo-gitops.ts.
import * as k8s from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { HttpCredentialIssuer } from '../activities/issuers/http';
import { TERMINAL_PHASES, type RotationStatus } from '../contract/api';
import { parsePlan, rotationWorkflowId } from '../domain/plan';
import { versionName } from '../domain/naming';
import { createAuthService, datadogErrorRatio, prometheusErrorRatio } from './auth-service';
import { actReport } from './demo-reports';
import { SCRAPE_MS, type DemoWorld } from './demo-world';
import { grantPlans } from './worker-identity';
import { CHECK_IMAGE } from '../activities/memory/programs';
import { promInstant, promRange } from './prom-query';

export interface ActResult {
  act: 'a' | 'b' | 'c' | 'c2' | 'c3' | 'd' | 'e';
  title: string;
  namespaces: string[];
  /** From Prometheus over the act's window. */
  requests: number;
  failed: number;
  failedInProduction: number;
  /** The highest error ratio of any second of the act (Prometheus, rate over 3 s). */
  peakErrorRate: number;
  /** When the switch to a bad token happened (e: production's commit), ms since the epoch; null without one (a: see switchToRecoveredMs). */
  switchAt?: number | null;
  /** From the switch to a bad token (a: the new token and the old one's revocation) to the rollback's start; null without one. */
  switchToRollbackMs: number | null;
  /** From that switch to every pod on a working token again (the pods' own view, from the traffic model). */
  switchToRecoveredMs: number | null;
  /** A rolled-back act: from CREATING to ROLLED_BACK in the rotation's status; null otherwise. */
  createdToRolledBackMs?: number | null;
  workflowId: string | null;
  /** The run of that id (acts b and c rotate the same Secret, so they share the workflow id). */
  runId: string | null;
  /** The auth API's own counts over the same window, for comparison with Prometheus. */
  counted: { requests: number; failed: number; failedInProduction: number };
  /** The window the figures cover, ms since the epoch. */
  window: { from: number; to: number };
  status: RotationStatus | null;
  /** A rotor act's `rotor report` page (test-artifacts/demo/act-<act>.html); absent for act a, null when it could not be made. */
  report?: string | null;
}

export interface DemoDurations {
  soak: string;
  pause: string;
  watch: string;
  retention: string;
  interval: string;
}

export const DEMO_DURATIONS: DemoDurations = { soak: '10s', pause: '10s', watch: '10s', retention: '10s', interval: '10s' };

export type Say = (line: string) => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const THRESHOLD = 0.05;

/** An instant query's single value at `atMs` (0 when empty). */
async function promValue(world: DemoWorld, query: string, atMs: number): Promise<number> {
  const { result } = await promInstant(world.prometheus, query, atMs);
  return Number(result[0]?.value[1] ?? 0);
}

/** The largest value of a range query over [fromMs, toMs] at one-second steps (0 when empty). */
async function promPeak(world: DemoWorld, query: string, fromMs: number, toMs: number): Promise<number> {
  const { result } = await promRange(world.prometheus, query, fromMs, toMs);
  const values = result.flatMap((r) => r.values.map(([, v]) => Number(v))).filter((v) => Number.isFinite(v));
  return values.length ? Math.max(...values) : 0;
}

/** The act's figures from Prometheus (and from the auth API's own counts, for comparison). */
async function figures(world: DemoWorld, namespaces: string[], from: number, to: number) {
  // Two scrapes after the window, so Prometheus holds every request in it.
  await sleep(Math.max(0, to + 2 * SCRAPE_MS + 500 - Date.now()));
  const sel = (ns: string[]) => `namespace=~"${ns.join('|')}"`;
  const increase = async (metric: string, ns: string[]) =>
    Math.round((await promValue(world, `sum(${metric}{${sel(ns)}})`, to)) - (await promValue(world, `sum(${metric}{${sel(ns)}})`, from)));
  const production = namespaces.filter((n) => n === 'production');
  const ratio = `sum(rate(auth_requests_errors_total{${sel(namespaces)}}[3s])) / sum(rate(auth_requests_total{${sel(namespaces)}}[3s]))`;
  const counts = (match: (ns: string) => boolean) => world.traffic.api.counters.sum(from, to, (l) => match(l.namespace));
  const all = counts((ns) => namespaces.includes(ns));
  return {
    requests: await increase('auth_requests_total', namespaces),
    failed: await increase('auth_requests_errors_total', namespaces),
    failedInProduction: production.length ? await increase('auth_requests_errors_total', production) : 0,
    peakErrorRate: await promPeak(world, ratio, from, to),
    counted: { requests: all.requests, failed: all.errors, failedInProduction: counts((ns) => ns === 'production').errors },
  };
}

/** Waits until `ns` runs `replicas` traffic pods, each on a pod that `ok` accepts. */
async function podsSettled(world: DemoWorld, ns: string, replicas: number, ok: (pod: { pod: string; version: string }) => boolean, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = world.traffic.model.running().filter((p) => p.namespace === ns);
    if (pods.length >= replicas && pods.every(ok)) return Date.now();
    if (Date.now() > deadline)
      throw new Error(`${ns}: pods did not settle within ${timeoutMs / 1000} s (${pods.map((p) => `${p.pod}@${p.version}`).join(', ')})`);
    await sleep(100);
  }
}

/** The issuer, as the seed's operator (act a) or the sandbox's setup (the first version of act b) uses it. */
function issuer(world: DemoWorld): HttpCredentialIssuer {
  const env = world.traffic.issuer!.workerEnv;
  return new HttpCredentialIssuer({ url: env.ROTOR_ISSUER_URL, token: env.ROTOR_ISSUER_TOKEN, timeoutMs: 5000 });
}

/** Act a: the seed's way. The incident's provider revokes the old token the moment it issues the new one. */
export async function actInPlace(world: DemoWorld, say: Say): Promise<ActResult> {
  const ns = 'inplace';
  const secretName = 'auth-service-token';
  const replicas = 4;
  world.traffic.api.issuer!.setMode('incident');
  const first = await issuer(world).issue({ id: `${secretName}-20250101000000` });
  say(`a) seeding ${ns}: Secret ${secretName} (not versioned) with a token from the incident's provider, Deployment auth-service (${replicas} pods)`);
  await createAuthService(world.kc, ns, { secretName, token: first.token, replicas, deployment: 'auth-service' });
  await podsSettled(world, ns, replicas, () => true);
  await sleep(3000);
  const before = new Set(
    world.traffic.model
      .running()
      .filter((p) => p.namespace === ns)
      .map((p) => p.pod),
  );
  const from = Date.now() - 1000;
  // The rotation, by hand: a new token (the provider revokes the old one at once) written over the old value.
  const switchAt = Date.now();
  const next = await issuer(world).issue({ id: versionName(secretName, new Date()) });
  say(`a) the incident's provider issued a new token and revoked the old one: every running pod fails from now on`);
  const core = world.kc.makeApiClient(k8s.CoreV1Api);
  await core.replaceNamespacedSecret({ namespace: ns, name: secretName, body: { metadata: { name: secretName }, stringData: { API_TOKEN: next.token } } });
  say(`a) Secret ${secretName} updated in place; $ kubectl -n ${ns} rollout restart deployment/auth-service`);
  await world.kubectl(['-n', ns, 'rollout', 'restart', 'deployment/auth-service']);
  const recoveredAt = await podsSettled(world, ns, replicas, (p) => !before.has(p.pod));
  say(`a) the last pod restarted on the new token ${((recoveredAt - switchAt) / 1000).toFixed(1)} s after the switch`);
  const to = recoveredAt + 2000;
  await sleep(Math.max(0, to - Date.now()));
  world.traffic.api.issuer!.setMode('overlapping');
  const f = await figures(world, [ns], from, to);
  say(`a) from Prometheus: ${f.failed} of ${f.requests} requests failed, peak error rate ${(f.peakErrorRate * 100).toFixed(0)}%`);
  return {
    act: 'a',
    title: 'in place (incident provider, rollout restart)',
    namespaces: [ns],
    ...f,
    switchToRollbackMs: null,
    switchToRecoveredMs: recoveredAt - switchAt,
    workflowId: null,
    runId: null,
    window: { from, to },
    status: null,
  };
}

export const FIRST_VERSION = 'auth-api-secrets-20250101000000';

/** Staging and production run auth-api on the first version, its token issued by the overlapping provider. */
export async function seedVersioned(world: DemoWorld, say: Say): Promise<void> {
  world.traffic.api.issuer!.setMode('overlapping');
  const first = await issuer(world).issue({ id: FIRST_VERSION });
  for (const [ns, replicas] of [
    ['staging', 2],
    ['production', 4],
  ] as const) {
    await createAuthService(world.kc, ns, { secretName: FIRST_VERSION, token: first.token, replicas, deployment: 'auth-api' });
  }
  say(`seeded staging (2 pods) and production (4 pods): Deployment auth-api reading API_TOKEN from ${FIRST_VERSION}, issued by the overlapping provider`);
  await podsSettled(world, 'staging', 2, () => true);
  await podsSettled(world, 'production', 4, () => true);
}

/** The plans of acts b and c: staging judged by Prometheus, then production by canary judged by Datadog; demo-gitops.ts reshapes production. */
export function plan(d: DemoDurations, scope?: string): Record<string, unknown> {
  return {
    secret: 'auth-api-secrets',
    value: { issuer: { key: 'API_TOKEN', ...(scope ? { scope } : {}) } },
    stages: [
      {
        name: 'staging',
        namespace: 'staging',
        strategy: 'rolling',
        analysis: {
          provider: 'prometheus',
          query: prometheusErrorRatio('staging'),
          threshold: THRESHOLD,
          interval: d.interval,
          failureLimit: 1,
          verify: d.interval,
        },
        soak: d.soak,
      },
      {
        name: 'production',
        namespace: 'production',
        approval: 'required',
        approvalTimeout: '30m',
        strategy: { canary: { steps: [10, 25, 50, 100], pause: d.pause } },
        analysis: { provider: 'datadog', query: datadogErrorRatio('production'), threshold: THRESHOLD, interval: d.pause, failureLimit: 1 },
        watch: d.watch,
      },
    ],
    retention: d.retention,
    cleanupRecheck: '5s',
  };
}

/**
 * One rotation through the CLI: `rotor start --watch` prints its progress; meanwhile the demo approves
 * when the rotation asks, and notes when the rollback starts and when the pods of `recover` (each
 * namespace with its number of pods; staging's by default) are all back on their previous version.
 */
async function rotate(world: DemoWorld, say: Say, document: Record<string, unknown>, name: string, recover: Record<string, number> = { staging: 2 }) {
  const file = join(world.dir, `${name}.yaml`);
  writeFileSync(file, stringify(document));
  const plan = parsePlan(document);
  const id = rotationWorkflowId(plan);
  say(`$ rotor rbac -f ${file} --admission | kubectl apply -f -`);
  await grantPlans(world.sandbox.plane, [plan]);
  say(`$ rotor start -f ${file} --watch`);
  // The same workflow id as an earlier act's rotation: only a run started from here on is this one.
  const startedAt = Date.now() - 1000;
  const watching = world.rotor(['start', '-f', file, '--watch', '--interval', '1'], (line) => say(`  ${line}`));
  let approved = false;
  let status: RotationStatus | null = null;
  let recoveredAt: number | null = null;
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`${id} did not end within 15 minutes (phase ${status?.phase ?? 'unknown'}); see the Web UI`);
    const latest = await world.client.status(id).catch(() => null);
    // Not live (no worker answered in time): only a summary, so wait for the workflow's own status.
    if (latest?.live && Date.parse(latest.startedAt) >= startedAt) status = latest;
    if (status?.phase === 'AWAITING_APPROVAL' && !approved) {
      approved = true;
      say(`$ rotor approve ${id} --comment "staging is clean"`);
      await world.rotor(['approve', id, '--comment', 'staging is clean'], (line) => say(`  ${line}`));
    }
    if (status && !recoveredAt && status.events.some((e) => e.phase === 'ROLLING_BACK')) {
      const back = Object.entries(recover).every(([ns, replicas]) => {
        const pods = world.traffic.model.running().filter((p) => p.namespace === ns);
        return pods.length >= replicas && pods.every((p) => p.version === status!.previousVersions[ns]);
      });
      if (back) recoveredAt = Date.now();
    }
    if (status && TERMINAL_PHASES.includes(status.phase) && (recoveredAt || status.phase !== 'ROLLED_BACK')) break;
    await sleep(200);
  }
  const code = await watching;
  const runId = (await world.client.handle(id).describe()).runId;
  return { id, runId, status: status!, code, recoveredAt };
}

const at = (status: RotationStatus, match: (e: RotationStatus['events'][number]) => boolean) => {
  const e = status.events.find(match);
  return e ? Date.parse(e.at) : null;
};

type RotationEvent = RotationStatus['events'][number];

/**
 * One of rotor's acts over staging and production: the rotation, its figures over the act's window
 * and, with `badSwitch` (the status event of the switch to the bad token), the times from that switch
 * to the rollback's start and to every pod of `recover` back on its previous version.
 */
export async function rotorAct(
  world: DemoWorld,
  say: Say,
  act: { act: ActResult['act']; title: string; document: Record<string, unknown>; recover?: Record<string, number>; badSwitch?: (e: RotationEvent) => boolean },
): Promise<ActResult & { status: RotationStatus }> {
  const from = Date.now();
  const { id, runId, status, recoveredAt } = await rotate(world, say, act.document, `act-${act.act}`, act.recover);
  const to = Date.now();
  // The report is made while the figures wait for Prometheus's last scrapes: it costs the act no time.
  const [f, report] = await Promise.all([figures(world, ['staging', 'production'], from, to), actReport(world, say, act.act, id)]);
  const switchAt = act.badSwitch ? at(status, act.badSwitch) : null;
  const rollbackAt = at(status, (e) => e.phase === 'ROLLING_BACK');
  const createdAt = at(status, (e) => e.phase === 'CREATING');
  const rolledBackAt = at(status, (e) => e.phase === 'ROLLED_BACK');
  return {
    act: act.act,
    title: act.title,
    namespaces: ['staging', 'production'],
    ...f,
    switchAt,
    switchToRollbackMs: switchAt && rollbackAt ? rollbackAt - switchAt : null,
    switchToRecoveredMs: switchAt && recoveredAt ? recoveredAt - switchAt : null,
    createdToRolledBackMs: createdAt && rolledBackAt ? rolledBackAt - createdAt : null,
    workflowId: id,
    runId,
    window: { from, to },
    status,
    report,
  };
}

/** Act b: a good token, all the way, with the old token revoked at the issuer after cleanup. */
export async function actGood(world: DemoWorld, say: Say, d: DemoDurations = DEMO_DURATIONS): Promise<ActResult> {
  const b = await rotorAct(world, say, { act: 'b', title: 'rotor, good token (overlapping provider, canary)', document: plan(d) });
  const old = world.traffic.api.issued().find((c) => c.id === FIRST_VERSION);
  say(
    `b) ${b.workflowId}: ${b.status.phase}; issuer: ${FIRST_VERSION} ${old?.state ?? 'unknown'}${old?.revokedAt ? ` at ${old.revokedAt}` : ''}, ${b.status.newCredential ?? b.status.newVersion} active`,
  );
  say(`b) from Prometheus: ${b.failed} of ${b.requests} requests failed (${b.failedInProduction} in production)`);
  return b;
}

/** The bad credential of a rolled-back act, and its state at the issuer. */
export function badCredential(world: DemoWorld, status: RotationStatus): string {
  const id = status.newCredential ?? status.newVersion;
  return `${id} ${world.traffic.api.issued().find((c) => c.id === id)?.state ?? 'unknown'}`;
}

/** Act c: a token of the wrong scope. Staging's analysis fails, rotor rolls back by itself and revokes it. */
export async function actBad(world: DemoWorld, say: Say, d: DemoDurations = DEMO_DURATIONS): Promise<ActResult> {
  const c = await rotorAct(world, say, {
    act: 'c',
    title: 'rotor, bad token (wrong scope)',
    document: plan(d, 'auth:admin'),
    badSwitch: (e) => e.phase === 'DEPLOYING' && e.message.startsWith('switched') && e.stage === 'staging',
  });
  say(`c) ${c.workflowId}: ${c.status.phase}; issuer: ${badCredential(world, c.status)}; production still on ${c.status.previousVersions.production}`);
  say(`c) from Prometheus: ${c.failed} of ${c.requests} requests failed (${c.failedInProduction} in production)`);
  // What a platform team sees on the workload (docs/events.md): rotor's Events, as kubectl lists them.
  const listed = await world.kubectl(['events', '-n', 'staging', '--for', 'deployment/auth-api']);
  for (const line of listed.split('\n').filter((l) => /\s(SecretVersionSwitched|RolledBack)\s/.test(l))) say(`c) $ kubectl events -n staging: ${line.trim()}`);
  return c;
}

/**
 * Acts c2 and c3: the same wrong-scope token, now tested before staging gets it, by an HTTP call to the
 * auth API's /v1/verify (c2) or by a Job whose pod reads the version through envFrom and calls it
 * (c3, run by the pod simulator's `rotor.dev/sandbox/check`): no pod ever runs it, so no request fails.
 */
export async function actPreflight(world: DemoWorld, say: Say, kind: 'http' | 'job', d: DemoDurations = DEMO_DURATIONS): Promise<ActResult> {
  const verify = (ns: string) => `${world.traffic.api.url}/v1/verify?env=${ns}`;
  const check = (ns: string) =>
    kind === 'http'
      ? { name: 'verify-token', http: { url: verify(ns), method: 'POST', headers: { Authorization: 'Bearer {{secret.API_TOKEN}}' }, retries: 0 } }
      : { name: 'verify-in-pod', job: { image: `${CHECK_IMAGE}:1`, args: ['http-check', '--url', verify(ns), '--bearer-env', 'API_TOKEN'], timeout: '1m' } };
  const document = plan(d, 'auth:admin');
  for (const stage of document.stages as Record<string, unknown>[]) stage.preflight = [check(String(stage.namespace))];
  const act = kind === 'http' ? 'c2' : 'c3';
  const r = await rotorAct(world, say, { act, title: `rotor, bad token, ${kind === 'http' ? 'HTTP' : 'Job'} pre-flight`, document, recover: {} });
  say(`${act}) ${r.workflowId}: ${r.status.phase}: ${r.status.outcome}; issuer: ${badCredential(world, r.status)}`);
  say(
    `${act}) from Prometheus: ${r.failed} of ${r.requests} requests failed; CREATING to ROLLED_BACK in ${((r.createdToRolledBackMs ?? 0) / 1000).toFixed(1)} s`,
  );
  return r;
}

/** The closing table, as Markdown. */
export function table(results: ActResult[]): string {
  const s = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);
  const rows = results.map(
    (r) =>
      `| ${r.act}) ${r.title} | ${r.requests} | ${r.failed} | ${r.namespaces.includes('production') ? r.failedInProduction : '-'} | ${(r.peakErrorRate * 100).toFixed(1)}% | ${
        r.act === 'a' ? 'none (by hand)' : s(r.switchToRollbackMs)
      } | ${s(r.switchToRecoveredMs)} | ${s(r.createdToRolledBackMs ?? null)} |`,
  );
  return [
    '| act | requests | failed | failed in production | peak error rate | bad switch -> rollback started | bad switch -> every pod on a working token | CREATING -> ROLLED_BACK |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
