// `npm run demo`: the incident replayed and beaten, in acts on real parts (demo-acts.ts): the
// sandbox control plane with simulated pods calling an auth API emulator, a real Prometheus, the
// Datadog emulator behind the official client, the Temporal dev server with its Web UI, and a real
// `rotor worker` as its own ServiceAccount, granted what `rotor rbac --admission` prints. It prints as it goes and
// ends with a table whose figures come from Prometheus, and the paths of its pages in test-artifacts/demo/
// (each rotor act's `rotor report`, and the error rate over the acts). `--gitops` adds the real Git server and Flux,
// hands production to Flux after act c, and plays acts d and e (demo-gitops.ts) with production
// switched by commits. `--keep` leaves everything running for the Web UI until Ctrl-C, which stops the
// worker, the dev server, Flux, the Git server, the simulator, controller-manager, apiserver, etcd and
// the metric servers, in that order.
import { actBad, actGood, actInPlace, actPreflight, seedVersioned, table, THRESHOLD, type ActResult } from './demo-acts';
import { errorRateReport } from './demo-reports';
import { actGitBad, actGitGood, fluxManagesProduction } from './demo-gitops';
import { phasesScraped } from './demo-metrics';
import { startDemoWorld, type DemoWorld } from './demo-world';
import { isShuttingDown, onShutdownSignals } from './processes';

const say = (line: string) => process.stdout.write(`[demo] ${line}\n`);

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  const gitops = process.argv.includes('--gitops');
  const t0 = Date.now();
  const log = (l: string) => say(`  ${l}`);
  // Each part is stopped in reverse order of start, by Ctrl-C at any moment or at the end.
  const stops: (() => Promise<void>)[] = [];
  let stopped: Promise<void> | null = null;
  const stopAll = () =>
    (stopped ??= (async () => {
      for (const stop of [...stops].reverse()) await stop().catch((err: Error) => log(`stopping failed: ${err.message}`));
    })());
  onShutdownSignals(stopAll, log);
  say('starting the sandbox: etcd, kube-apiserver (RBAC), controller-manager, 2 simulated nodes, the auth API and its issuer,');
  say(
    `Prometheus (scraping every second), the Datadog emulator, ${gitops ? 'a Git server, Flux (source- and kustomize-controller), ' : ''}the Temporal dev server with its Web UI, and a rotor worker ...`,
  );
  let world: DemoWorld;
  try {
    world = await startDemoWorld({ log, onStarted: (stop) => stops.push(stop), gitops });
  } catch (err) {
    await stopAll();
    throw err;
  }
  say(`ready in ${Math.round((Date.now() - t0) / 1000)} s; Web UI ${world.ui}`);
  if (world.codecServer) {
    say(`every payload is encrypted (ROTOR_CODEC_KEY, a fresh key); the Web UI decodes them through the codec server at ${world.codecServer}`);
  }
  const results: ActResult[] = [];
  try {
    say('');
    say('act a) the incident: rotate the token in place, the way the seed did it');
    results.push(await actInPlace(world, say));
    say('');
    say('act b) rotor with a good token from a provider that keeps the old one valid until revoked');
    await seedVersioned(world, say);
    results.push(await actGood(world, say));
    say('');
    say('act c) rotor with a bad token (wrong scope): staging catches it, rotor rolls back by itself');
    results.push(await actBad(world, say));
    say('');
    say('act c2) the same bad token, tested first by an HTTP pre-flight call to the auth API: no pod ever gets it');
    results.push(await actPreflight(world, say, 'http'));
    say('');
    say('act c3) the same bad token, tested first by a pre-flight Job whose pod reads the version as the workloads do');
    results.push(await actPreflight(world, say, 'job'));
    if (gitops) {
      say('');
      say("Git mode: production's Deployment goes into a repository, and Flux applies it from there");
      const repo = await fluxManagesProduction(world, say);
      say('');
      say('act d) rotor with a good token, production Flux-managed: its switch is a commit, which Flux applies');
      results.push(await actGitGood(world, repo, say));
      say('');
      say('act e) rotor with a token scoped to staging: staging passes, production fails after the commit, rotor reverts it');
      results.push(await actGitBad(world, repo, say));
    }
  } catch (err) {
    if (isShuttingDown()) return;
    await stopAll();
    throw err;
  }
  say('');
  say("what happened, from the metrics (Prometheus over each act; times from rotor's status and the pods):");
  process.stdout.write(`${table(results)}\n`);
  if (gitops) say("act e's bad switch is production's commit (staging accepts the token): its failures are production's, from Flux's apply to the revert's");
  const prometheus = world.traffic.prometheus;
  if (prometheus) {
    say(`the worker's rotor_rotation_info, as Prometheus scraped it (${prometheus.url}, job rotor-worker), phase by phase:`);
    for (const r of results.filter((x) => x.status)) {
      const phases = await phasesScraped(prometheus.url, r).catch((err: Error) => [`(cannot tell: ${err.message})`]);
      say(`  act ${r.act}: ${phases.join(' → ') || '(none scraped)'}`);
    }
  }
  say('');
  say('reports (rotor report of each act, and the error rate from Prometheus over the acts):');
  for (const r of results.filter((x) => x.report)) say(`  act ${r.act}: ${r.report}`);
  say(`  error rate: ${await errorRateReport(world, results, THRESHOLD)}`);
  say('');
  say(`Web UI: ${world.ui}/namespaces/default/workflows`);
  for (const r of results.filter((x) => x.workflowId)) {
    say(`  act ${r.act}: ${r.status?.phase} ${world.ui}/namespaces/default/workflows/${r.workflowId}/${r.runId}/history`);
  }
  say(
    `  awaiting approval or rolling back: ${world.ui}/namespaces/default/workflows?query=${encodeURIComponent("RotorPhase IN ('AWAITING_APPROVAL', 'ROLLING_BACK')")}`,
  );
  say(`demo finished in ${Math.round((Date.now() - t0) / 1000)} s`);
  const act = (name: ActResult['act']) => results.find((r) => r.act === name)!;
  const ok =
    act('a').failed > 0 &&
    act('b').failed === 0 &&
    act('b').status?.phase === 'COMPLETED' &&
    act('c').failedInProduction === 0 &&
    act('c').status?.phase === 'ROLLED_BACK' &&
    (['c2', 'c3'] as const).every((n) => act(n).failed === 0 && act(n).status?.phase === 'ROLLED_BACK') &&
    (!gitops ||
      (act('d').failed === 0 &&
        act('d').status?.phase === 'COMPLETED' &&
        act('e').failed === act('e').failedInProduction &&
        act('e').status?.phase === 'ROLLED_BACK'));
  if (!ok) say('the acts did not end as the story says: see the table and the Web UI');
  if (keep) {
    say(`still running: Web UI ${world.ui}, KUBECONFIG=${world.sandbox.plane.kubeconfig}; Ctrl-C stops everything`);
    await new Promise(() => undefined);
  }
  await stopAll();
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  // Cut short by Ctrl-C, the demo fails on what is being stopped: the shutdown reports instead.
  if (isShuttingDown()) return;
  process.stderr.write(`[demo] failed: ${err.message}\n`);
  process.exit(1);
});
