// The leak check's evidence. Every workflow and end-to-end test records here what a secret value must
// never reach: the histories of every workflow its servers ran (fetched before they stop), the
// worker's and the CLI's output; and the secret values its world held (generated, issued, read from
// files, seeded). After the suite, scripts/leak-check.mjs searches the first for the second, raw,
// base64 (at every alignment) and hex: any hit fails the build. Files go to .rotor/leak/, one set per
// test process, cleared by scripts/run-tests.mjs before a run.
import { writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { timeSkippingEnv } from '../../sandbox/time-skipping';
import type { DemoWorld } from '../../sandbox/demo-world';
import { evidenceFile as file, flushSources, recordText, recordValues } from './leak-evidence';

export { LEAK_DIR, recordText, recordValues, recordValuesFrom } from './leak-evidence';

let histories = 0;

/** Every run of every workflow the server lists, as the server stores it (payloads undecoded). */
export async function recordHistories(client: Client): Promise<number> {
  let n = 0;
  // Listing by id gives each run: continue-as-new and reused ids leave several.
  const ids = new Set<string>();
  for await (const w of executions(client)) ids.add(w.workflowId);
  for (const id of ids) {
    for await (const w of executions(client, `WorkflowId = '${id}'`)) {
      const history = await client.workflow.getHandle(id, w.runId).fetchHistory();
      writeFileSync(file(`history-${++histories}`, 'json'), historyToJSON(history));
      n += 1;
    }
  }
  flushSources();
  return n;
}

/** The runs the server lists, read raw: `workflow.list()` would decode memos, which the codec may have encrypted. */
async function* executions(client: Client, query?: string): AsyncGenerator<{ workflowId: string; runId: string }> {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listWorkflowExecutions({ namespace: client.options.namespace, query, nextPageToken });
    for (const e of page.executions ?? []) yield { workflowId: e.execution?.workflowId ?? '', runId: e.execution?.runId ?? '' };
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
}

/** Every history a dev server holds, through a client without the payload codec (what the server stores). */
export async function recordServerHistories(address: string): Promise<number> {
  const connection = await Connection.connect({ address });
  try {
    return await recordHistories(new Client({ connection }));
  } finally {
    await connection.close();
  }
}

/**
 * The time-skipping server, with the evidence kept: the id of every workflow its client starts, whose
 * history (every run) is recorded before teardown. Its test server cannot list workflows.
 */
export async function leakCheckedEnv(): Promise<TestWorkflowEnvironment> {
  const env = await timeSkippingEnv();
  const started: string[] = [];
  const workflow = env.client.workflow;
  const start = workflow.start.bind(workflow);
  workflow.start = (async (...args: Parameters<typeof start>) => {
    const handle = await start(...args);
    started.push(handle.workflowId);
    return handle;
  }) as typeof workflow.start;
  const teardown = env.teardown.bind(env);
  env.teardown = async () => {
    try {
      await recordEveryRun(env.client, started);
    } finally {
      await teardown();
    }
  };
  return env;
}

/** Each run of each id: the latest, then back through continue-as-new to the first. */
async function recordEveryRun(client: Client, ids: string[]): Promise<void> {
  for (const id of [...new Set(ids)]) {
    let runId: string | undefined;
    for (let hops = 0; hops < 100; hops++) {
      const history = await client.workflow.getHandle(id, runId).fetchHistory();
      writeFileSync(file(`history-${++histories}`, 'json'), historyToJSON(history));
      runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
      if (!runId) break;
    }
  }
  flushSources();
}

/** Every value of every Secret in a cluster (decoded), read with an admin kubeconfig before it stops. */
export async function recordClusterSecrets(kubeconfig: string): Promise<void> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const secrets = await kc.makeApiClient(k8s.CoreV1Api).listSecretForAllNamespaces();
  recordValues(secrets.items.flatMap((s) => Object.values(s.data ?? {}).map((b64) => Buffer.from(b64, 'base64').toString('utf8'))));
}

/**
 * A demo world's evidence (sandbox/demo-world.ts): it has its own dev server, so its histories, the
 * worker's log, every Secret, the issuer's tokens and what the test printed (`lines`) go to the check.
 */
export async function recordDemoWorld(world: DemoWorld, lines: string[], label: string): Promise<void> {
  await recordClusterSecrets(world.sandbox.plane.kubeconfig);
  recordValues(world.traffic.api.issuer!.tokensForLeakCheck());
  await recordServerHistories(world.server.address);
  recordText(`${label} worker`, world.workerOutput());
  recordText(`${label} output (the CLI included)`, lines.join('\n'));
}
