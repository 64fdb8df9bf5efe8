// The demo's acts end to end, on the demo's own world (sandbox/demo-world.ts: real apiserver,
// simulated pods calling the auth API emulator, a real Prometheus, the Datadog emulator behind the
// official client, a real dev server and `rotor worker` with the RBAC rotor rbac grants its plans,
// and, as with `--gitops`, the real Git server and Flux). The figures the demo prints come from
// Prometheus; here they are held against the auth API's own counts, and the issuer's record is held
// against rotor's: the old credential revoked only after cleanup deleted its version, the bad one
// revoked by the rollback, production never failing in acts a-c. Acts d and e, production applied by
// Flux: rotor's commit in the repository's log and kustomize-controller writing the live reference;
// a token scoped to staging failing production only after the commit, rolled back by a revert commit.
// The demo's pages: act c's `rotor report` and the error rate over the acts, drawn in chromium.
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { actBad, actGood, actInPlace, FIRST_VERSION, seedVersioned, table, THRESHOLD, type ActResult, type DemoDurations } from '../sandbox/demo-acts';
import { errorRateReport } from '../sandbox/demo-reports';
import { actGitBad, actGitGood, fluxManagesProduction, GITOPS_REPO, productionVersion, referenceWriters } from '../sandbox/demo-gitops';
import { phasesScraped } from '../sandbox/demo-metrics';
import { SCRAPE_MS, startDemoWorld, type DemoWorld } from '../sandbox/demo-world';
import { pollUntil } from './helpers/cli';
import { logOf } from '../sandbox/git-server';
import { recordRepositories } from './helpers/git-mode';
import { recordDemoWorld, recordText } from './helpers/leak';
import { openInChromium } from './helpers/report-browser';

const FAST: DemoDurations = { soak: '10s', pause: '10s', watch: '10s', retention: '5s', interval: '10s' };

let world: DemoWorld;
const lines: string[] = [];
const say = (line: string) => lines.push(line);

before(async () => {
  world = await startDemoWorld({ readyDelayMs: 1000, gitops: true });
});

after(async () => {
  if (world) {
    await recordDemoWorld(world, lines, 'demo');
    // Every commit of the Git server's repositories, with its patch: no secret value may be in Git.
    if (world.gitops) recordRepositories(world.gitops.git);
  }
  await world?.stop();
});

/**
 * Prometheus's figure and the auth API's own count agree, up to what a scrape interval at each end of
 * the window holds (Prometheus sees the counters as of its last scrape before each end).
 */
function agrees(fromMetrics: number, counted: number, what: string, r: ActResult): void {
  const perSecond = r.counted.requests / ((r.window.to - r.window.from) / 1000);
  const slack = 2 * (SCRAPE_MS / 1000) * perSecond + 5;
  assert.ok(Math.abs(fromMetrics - counted) <= slack, `${what} of act ${r.act}: Prometheus says ${fromMetrics}, the auth API counted ${counted}`);
}

describe('npm run demo, act by act', () => {
  const results: ActResult[] = [];
  /** Production's repository, once Flux applies production from it (act d on). */
  let repo: string;

  it('a) in place: the incident provider revokes the old token at once, and requests fail until the last pod restarts', async () => {
    const a = await actInPlace(world, say);
    results.push(a);
    assert.ok(a.failed > 0, `failed requests measured (${a.failed})`);
    assert.ok(a.peakErrorRate > 0.5, `every pod failed at first (peak ${a.peakErrorRate})`);
    agrees(a.requests, a.counted.requests, 'requests', a);
    agrees(a.failed, a.counted.failed, 'failed requests', a);
    assert.ok(a.switchToRecoveredMs! > 0);
  });

  it('b) rotor with a good token: no request fails, and the old credential is revoked only after cleanup deleted its version', async () => {
    await seedVersioned(world, say);
    const b = await actGood(world, say, FAST);
    results.push(b);
    const status = b.status!;
    assert.equal(status.phase, 'COMPLETED', status.outcome ?? '');
    assert.equal(b.failed, 0);
    assert.equal(b.counted.failed, 0);
    assert.ok(b.requests > 0);
    agrees(b.requests, b.counted.requests, 'requests', b);
    // Production went 10 -> 25 -> 50 -> 100, each step judged by Datadog.
    const canary = status.checks.filter((c) => c.stage === 'production' && c.check === 'canary');
    assert.equal(canary.length, 4);
    assert.ok(canary.every((c) => c.verdict === 'passed'));
    assert.ok(status.approvals.some((a) => a.stage === 'production' && a.by === 'demo'));
    const old = world.traffic.api.issued().find((c) => c.id === FIRST_VERSION)!;
    const fresh = world.traffic.api.issued().find((c) => c.id === status.newCredential)!;
    assert.match(status.newCredential!, new RegExp(`^${status.newVersion}\\.[0-9a-f]{12}$`), "the credential's id is this rotation's own");
    assert.equal(old.state, 'revoked');
    assert.equal(fresh.state, 'active');
    const deleted = status.events.find((e) => e.message.startsWith(`deleted ${FIRST_VERSION}`))!;
    assert.ok(Date.parse(old.revokedAt!) >= Date.parse(deleted.at), `revoked ${old.revokedAt}, deleted ${deleted.at}`);
    assert.ok(status.events.some((e) => e.message.startsWith(`issuer: revoked ${FIRST_VERSION} after its guarded delete`)));
    await assertPhasesScraped(b);
    // The codec is on in the demo: what the server stores of the rotation is encrypted.
    const connection = await Connection.connect({ address: world.server.address });
    try {
      const history = await new Client({ connection }).workflow.getHandle(b.workflowId!, b.runId!).fetchHistory();
      const input = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
      assert.equal(Buffer.from(input.metadata!.encoding!).toString(), 'binary/encrypted');
      assert.ok(world.codecServer, 'the Web UI has a codec server to decode through');
    } finally {
      await connection.close();
    }
  });

  it('c) rotor with a bad token: staging rolls back by itself, the bad token is revoked, production never fails', async () => {
    const good = results[1].status!.newVersion!;
    const goodCredential = results[1].status!.newCredential!;
    const c = await actBad(world, say, FAST);
    results.push(c);
    const status = c.status!;
    assert.equal(status.phase, 'ROLLED_BACK', `${status.outcome}; left: ${status.leftovers.join('; ')}`);
    assert.equal(c.failedInProduction, 0);
    assert.equal(c.counted.failedInProduction, 0);
    assert.ok(c.failed > 0, 'staging ran the bad token until the rollback');
    agrees(c.failed, c.counted.failed, 'failed requests', c);
    assert.ok(c.switchToRollbackMs! > 0 && c.switchToRecoveredMs! >= c.switchToRollbackMs!, `${c.switchToRollbackMs} then ${c.switchToRecoveredMs}`);
    assert.equal(world.traffic.api.issued().find((x) => x.id === status.newCredential)?.state, 'revoked');
    assert.equal(world.traffic.api.issued().find((x) => x.id === goodCredential)?.state, 'active', 'the version in use stays valid');
    assert.ok(
      world.traffic.model
        .running()
        .filter((p) => p.namespace !== 'inplace')
        .every((p) => p.version === good),
    );
    assert.equal(status.switched.length, 0);
    await assertPhasesScraped(c);
    // rotor report of act c: staging's error-rate check charted against its threshold, with the switch
    // and the rollback; drawn in chromium (test-artifacts/demo-act-c.png); no token in it, in any form.
    assert.ok(c.report, "rotor report wrote act c's page");
    const html = readFileSync(c.report!, 'utf8');
    recordText("rotor report of act c (the demo's page)", html);
    for (const token of world.traffic.api.issuer!.tokensForLeakCheck()) {
      for (const form of [token, Buffer.from(token).toString('base64')]) assert.ok(!html.includes(form), 'no token in the report');
    }
    const page = await openInChromium(c.report!, 'demo-act-c', ['phases', 'measurement_points', 'threshold_rule', 'switch_rule', 'rollback_rule']);
    for (const [name, m] of Object.entries(page.marks)) assert.ok(m.sized > 0, `act c's report: ${name} drawn (${m.shapes} shape(s), ${m.sized} sized)`);
    assert.match(page.text, /ROLLED_BACK \(stage staging\)/);
    // kubectl events on staging's Deployment: rotor switched it, then rolled it back, saying why.
    const events = lines.filter((l) => l.startsWith('c) $ kubectl events -n staging: '));
    assert.match(
      events.at(-2) ?? '',
      new RegExp(`Normal\\s+SecretVersionSwitched\\s+Deployment/auth-api\\s+switched from ${good} to ${status.newVersion} in stage staging`),
    );
    assert.match(
      events.at(-1) ?? '',
      new RegExp(
        `Warning\\s+RolledBack\\s+Deployment/auth-api\\s+rolled back from ${status.newVersion} to ${good} .*: ${status
          .outcome!.replace(/^rolled back: /, '')
          .slice(0, 40)
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
      ),
    );
    const table_ = table(results);
    assert.match(table_, /\| a\) in place .*\| none \(by hand\) \|/);
    assert.equal(table_.split('\n').length, 5);
  });

  it("d) rotor with a good token, production Flux-managed: no request fails, production switched by rotor's commit that kustomize-controller applied", async () => {
    const previous = results[1].status!.newVersion!;
    repo = await fluxManagesProduction(world, say);
    assert.equal(await productionVersion(world), previous);
    const d = await actGitGood(world, repo, say, FAST);
    results.push(d);
    const status = d.status!;
    assert.equal(status.phase, 'COMPLETED', `${status.outcome}\n${world.workerOutput().slice(-3000)}`);
    assert.equal(d.failed, 0);
    assert.equal(d.counted.failed, 0);
    assert.ok(d.requests > 0);
    agrees(d.requests, d.counted.requests, 'requests', d);
    const version = status.newVersion!;
    const log = await logOf(world.gitops!.git.root, GITOPS_REPO, 'main');
    assert.equal(log.length, 2, log.join('\n'));
    assert.match(log[0], new RegExp(`^[0-9a-f]{40} rotor: auth-api-secrets in production \\(production\\): ${previous} -> ${version}$`));
    assert.equal(await productionVersion(world), version);
    assert.deepEqual(await referenceWriters(world), ['kustomize-controller/Apply'], 'Flux, not rotor, wrote the live reference');
    assert.ok(
      status.events.some((e) => /Flux Kustomization flux-system\/apps-production applied [0-9a-f]{7} in production/.test(e.message)),
      JSON.stringify(status.events.map((e) => e.message)),
    );
    assert.ok(
      world.traffic.model
        .running()
        .filter((p) => p.namespace !== 'inplace')
        .every((p) => p.version === version),
    );
    const credentials = world.traffic.api.issued();
    assert.equal(credentials.find((c) => c.id === status.newCredential)?.state, 'active');
    assert.equal(credentials.find((c) => c.id === results[1].status!.newCredential)?.state, 'revoked', "act b's credential revoked after cleanup");
  });

  it('e) a token scoped to staging: staging passes, production fails only after the commit, and the rollback is a revert commit that Flux applies', async () => {
    const d = results.find((r) => r.act === 'd')!;
    const previous = d.status!.newVersion!;
    const previousCredential = d.status!.newCredential!;
    const root = world.gitops!.git.root;
    const before = (await logOf(root, GITOPS_REPO, 'main')).length;
    const e = await actGitBad(world, repo, say, FAST);
    results.push(e);
    const status = e.status!;
    assert.equal(status.phase, 'ROLLED_BACK', `${status.outcome}; left: ${status.leftovers.join('; ')}`);
    assert.match(status.outcome!, /production/);
    const bad = status.newVersion!;
    // The log's last two commits: rotor's switch, then its revert.
    const log = await logOf(root, GITOPS_REPO, 'main');
    assert.equal(log.length, before + 2, log.join('\n'));
    assert.match(log[1], new RegExp(`rotor: auth-api-secrets in production \\(production\\): ${previous} -> ${bad}$`));
    assert.match(log[0], new RegExp(`rotor: roll back auth-api-secrets in production \\(production\\) to ${previous}$`));
    assert.equal(await productionVersion(world), previous, 'Flux applied the revert');
    assert.deepEqual(await referenceWriters(world), ['kustomize-controller/Apply']);
    assert.ok(
      world.traffic.model
        .running()
        .filter((p) => p.namespace !== 'inplace')
        .every((p) => p.version === previous),
    );
    assert.equal(world.traffic.api.issued().find((x) => x.id === status.newCredential)?.scope, 'auth:verify@staging');
    assert.equal(world.traffic.api.issued().find((x) => x.id === status.newCredential)?.state, 'revoked');
    assert.equal(world.traffic.api.issued().find((x) => x.id === previousCredential)?.state, 'active', 'the version in use stays valid');
    // Staging never failed; production failed, and only after rotor's commit.
    const counted = (ns: string, from: number, to: number) => world.traffic.api.counters.sum(from, to, (l) => l.namespace === ns).errors;
    assert.equal(e.failed - e.failedInProduction, 0, 'staging: 0 failed (Prometheus)');
    assert.equal(counted('staging', e.window.from, e.window.to), 0, 'staging: 0 failed (the auth API)');
    assert.ok(e.failedInProduction > 0 && e.counted.failedInProduction > 0, `production ran the token until the rollback (${e.failedInProduction})`);
    agrees(e.failedInProduction, e.counted.failedInProduction, 'failed requests in production', e);
    assert.ok(e.switchAt, 'the production commit is in the status');
    // Every one-second bucket of the auth API's count that ends before the commit's second.
    assert.equal(counted('production', e.window.from, e.switchAt! - (e.switchAt! % 1000)), 0, 'no failure before the production commit');
    assert.ok(e.switchToRollbackMs! > 0 && e.switchToRecoveredMs! >= e.switchToRollbackMs!, `${e.switchToRollbackMs} then ${e.switchToRecoveredMs}`);
    const table_ = table(results);
    assert.match(table_, /\| d\) rotor \+ Flux, good token .*\| 0 \| 0 \|/);
    assert.match(table_, /\| e\) rotor \+ Flux, token scoped to staging/);
    assert.equal(table_.split('\n').length, 7);
  });

  it("the demo's pages: a report per rotor act, and the auth API's error rate from Prometheus over the acts with each switch and rollback", async () => {
    assert.deepEqual(
      results.filter((r) => r.report).map((r) => r.act),
      ['b', 'c', 'd', 'e'],
    );
    const file = await errorRateReport(world, results, THRESHOLD);
    const html = readFileSync(file, 'utf8');
    recordText("the demo's error-rate page", html);
    const page = await openInChromium(file, 'demo-error-rate', ['error_rate', 'acts', 'threshold_rule', 'switch_rule', 'rollback_rule']);
    for (const [name, m] of Object.entries(page.marks)) assert.ok(m.sized > 0, `error rate: ${name} drawn (${m.shapes} shape(s), ${m.sized} sized)`);
    assert.equal(page.marks.acts.shapes, results.length, 'one window per act');
    assert.equal(page.requests.length, 1, 'the page asked for nothing but itself');
  });
});

/**
 * The sandbox's Prometheus scraped the worker's rotor_rotation_info through the act: every phase the
 * rotation's status shows lasting 6 s or more (three scrapes) was seen, and nothing it never entered.
 */
async function assertPhasesScraped(act: ActResult): Promise<void> {
  const events = act.status!.events;
  const spans = new Map<string, number>();
  for (const [i, e] of events.entries()) {
    const next = events.slice(i + 1).find((x) => x.phase !== e.phase);
    if (i > 0 && events[i - 1].phase === e.phase) continue;
    const ms = (next ? Date.parse(next.at) : Date.parse(act.status!.updatedAt)) - Date.parse(e.at);
    spans.set(e.phase, Math.max(spans.get(e.phase) ?? 0, ms));
  }
  const url = world.traffic.prometheus!.url;
  const scraped = await pollUntil(
    () => phasesScraped(world.traffic.prometheus!.url, act),
    (p) => [...spans].every(([phase, ms]) => ms < 6000 || p.includes(phase)),
    {
      timeoutMs: 20_000,
      intervalMs: 1000,
      describe: (p) =>
        `act ${act.act}: scraped ${p.join(' → ')}; the status' phases: ${JSON.stringify([...spans])}; ${JSON.stringify(act.status!.events.map((e) => [e.at, e.phase]))}`,
    },
  ).catch(async (err: Error) => {
    const ms = act.window.to - act.window.from + 60_000;
    const q = `sum_over_time((up{job="rotor-worker"} == bool 0)[${Math.ceil(ms / 1000)}s:2s])`;
    const up = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`).then((r) => r.text());
    throw new Error(`${err.message}; failed scrapes over the act: ${up}`);
  });
  for (const phase of scraped) assert.ok(spans.has(phase), `act ${act.act}: Prometheus saw ${phase}, which the status never entered`);
}
