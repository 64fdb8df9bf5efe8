// The rotations in flight as Temporal's visibility says (worker/metrics.ts reads them at each scrape):
// phase and stage from the search attributes, the new version from the status memo, and the stage's
// namespace from the plan each run started with (its first history event, read once per run).
import type { Client } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { SA_PHASE, SA_SECRET, SA_STAGE, STATUS_MEMO, WORKFLOW_TYPE, type RotationInput, type StatusMemo } from '../contract/api';
import { validatePlan } from '../domain/plan';
import type { RotationRow, RotationSource } from './metrics';

/** Stage name → namespace, and the first stage's namespace under '' (where the rotation's claim lives). */
type Namespaces = Map<string, string>;

export function rotationsInFlight(client: Client): RotationSource {
  const byRun = new Map<string, Promise<Namespaces | null>>();
  const namespacesOf = (workflowId: string, runId: string) => {
    let known = byRun.get(runId);
    if (!known) {
      known = planNamespaces(client, workflowId, runId).catch(() => null);
      byRun.set(runId, known);
    }
    return known;
  };
  return async () => {
    const rows: RotationRow[] = [];
    const seen = new Set<string>();
    for await (const wf of client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` })) {
      seen.add(wf.runId);
      const memo = wf.memo?.[STATUS_MEMO] as StatusMemo | undefined;
      const saStage = wf.typedSearchAttributes.get(SA_STAGE);
      const stage = memo ? memo.stage : saStage && saStage !== '-' ? saStage : null;
      const namespaces = await namespacesOf(wf.workflowId, wf.runId);
      rows.push({
        secret: wf.typedSearchAttributes.get(SA_SECRET) ?? '',
        phase: wf.typedSearchAttributes.get(SA_PHASE) ?? memo?.phase ?? 'PLANNING',
        stage,
        namespace: namespaces?.get(stage ?? '') ?? namespaces?.get('') ?? null,
        version: memo?.newVersion ?? null,
      });
    }
    for (const runId of byRun.keys()) if (!seen.has(runId)) byRun.delete(runId);
    return rows;
  };
}

async function planNamespaces(client: Client, workflowId: string, runId: string): Promise<Namespaces | null> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const started = history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started) return null;
  const input = await decodeFromPayloadsAtIndex<RotationInput>(client.options.loadedDataConverter, 0, started.input?.payloads);
  const { plan } = validatePlan(input.plan);
  const out: Namespaces = new Map(plan.stages.map((s) => [s.name, s.namespace]));
  if (plan.stages[0]) out.set('', plan.stages[0].namespace);
  return out;
}
