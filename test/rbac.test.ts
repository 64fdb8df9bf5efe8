// `rotor rbac`: the least the worker needs for its plans. Each plan feature adds exactly its rules
// where its stages run (a canary's Deployment create/delete, External Secrets' resources, a named
// store by name), and nothing grants Secrets' list or any Secret rule outside the plans' namespaces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { validatePlan, type Plan } from '../domain/plan';
import { rbacManifests, type Rule } from '../client/rbac';
import { repoRoot } from '../sandbox/tools';
import { rotor } from './helpers/cli';

const SA = { namespace: 'rotor-system', name: 'rotor-worker' };
const example = parse(readFileSync(join(repoRoot, 'examples', 'plan.yaml'), 'utf8')) as Record<string, any>;

function plan(change: (doc: Record<string, any>) => void = () => undefined): Plan {
  const doc = structuredClone(example);
  change(doc);
  const { plan, issues } = validatePlan(doc);
  assert.deepEqual(issues, []);
  return plan;
}

const esoPlan = (kind: 'SecretStore' | 'ClusterSecretStore', name: string) =>
  plan((d) => {
    d.store = 'external-secrets';
    d.value = { awsSecretsManager: { secretId: '/production/auth-api/token', versionStage: 'AWSPENDING' } };
    d.awsSecretsManager = { secretId: '/production/auth-api/token', region: 'eu-west-1' };
    d.externalSecrets = { secretStoreRef: { name, kind } };
  });

/** Every rule of the Role in `namespace`, as `group/resource:verb` (and `=name` when limited to names). */
function granted(manifests: ReturnType<typeof rbacManifests>, kind: 'Role' | 'ClusterRole', namespace?: string, name?: string): string[] {
  const role = manifests.find((m) => m.kind === kind && m.metadata.namespace === namespace && (!name || m.metadata.name === name));
  assert.ok(role, `a ${kind} ${namespace ?? ''} ${name ?? ''}`);
  return role
    .rules!.flatMap((r: Rule) =>
      r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}${r.resourceNames ? `=${r.resourceNames.join(',')}` : ''}`))),
    )
    .sort();
}

describe('rotor rbac', () => {
  it('grants a canary stage Deployment create and delete, and a rolling one not', () => {
    const m = rbacManifests([plan()], { serviceAccount: SA });
    const staging = granted(m, 'Role', 'staging');
    const production = granted(m, 'Role', 'production');
    assert.ok(!staging.includes('apps/deployments:create') && !staging.includes('apps/deployments:delete'));
    assert.ok(production.includes('apps/deployments:create') && production.includes('apps/deployments:delete'));
    for (const role of [staging, production]) {
      assert.ok(role.includes('/secrets:create') && role.includes('/secrets:get') && role.includes('/secrets:delete'));
      assert.ok(!role.some((r) => ['/secrets:list', '/secrets:watch', '/secrets:update', '/secrets:patch'].includes(r)));
      assert.ok(!role.some((r) => r.startsWith('external-secrets.io/')), 'no External Secrets rule without that store');
      assert.ok(role.includes('coordination.k8s.io/leases:create'));
      assert.ok(!role.includes('apps/replicasets:patch'), 'a ReplicaSet is never switched');
    }
    assert.deepEqual(
      m.filter((x) => x.kind === 'Role').map((x) => x.metadata.namespace),
      ['production', 'staging'],
      'a Role only where a stage runs',
    );
    assert.ok(!m.some((x) => x.metadata.name.endsWith('cluster-secret-stores')), 'no ClusterSecretStore rule without one');
    // With the admission policy, which confines it to adoption, Secrets may be patched.
    const confined = rbacManifests([plan()], { serviceAccount: SA, adopt: true });
    assert.ok(granted(confined, 'Role', 'staging').includes('/secrets:patch'));
  });

  it('grants External Secrets only with that store: no Secret create, the store read by name, a ClusterSecretStore cluster-wide', () => {
    const cluster = rbacManifests([esoPlan('ClusterSecretStore', 'aws')], { serviceAccount: SA });
    const production = granted(cluster, 'Role', 'production');
    assert.ok(!production.includes('/secrets:create'), 'the operator writes the Secrets');
    assert.ok(production.includes('external-secrets.io/externalsecrets:create') && production.includes('external-secrets.io/externalsecrets:delete'));
    assert.ok(!production.some((r) => r.startsWith('external-secrets.io/secretstores')));
    assert.deepEqual(granted(cluster, 'ClusterRole', undefined, 'rotor-worker-cluster-secret-stores'), ['external-secrets.io/clustersecretstores:get=aws']);
    const namespaced = rbacManifests([esoPlan('SecretStore', 'team-store')], { serviceAccount: SA });
    assert.ok(granted(namespaced, 'Role', 'staging').includes('external-secrets.io/secretstores:get=team-store'));
    assert.ok(!namespaced.some((x) => x.metadata.name.endsWith('cluster-secret-stores')));
  });

  it('joins several plans namespace by namespace, and never lets the scan read a Secret', () => {
    const other = plan((d) => {
      d.secret = 'ledger-key';
      d.stages = [
        { name: 'qa', namespace: 'qa', strategy: 'rolling' },
        { ...d.stages[1], name: 'production', strategy: 'rolling' },
      ];
    });
    const m = rbacManifests([other, plan()], { serviceAccount: { namespace: 'ops', name: 'rotor' } });
    assert.deepEqual(
      m.filter((x) => x.kind === 'Role').map((x) => x.metadata.namespace),
      ['production', 'qa', 'staging'],
    );
    assert.ok(granted(m, 'Role', 'production').includes('apps/deployments:create'), "the other plan's canary there");
    assert.ok(!granted(m, 'Role', 'qa').includes('apps/deployments:create'));
    const scan = granted(m, 'ClusterRole', undefined, 'rotor-scan');
    assert.ok(scan.every((r) => r.endsWith(':list')));
    assert.ok(!scan.some((r) => r.startsWith('/secrets') || r.startsWith('/*')), 'Secrets are never listed');
    for (const binding of m.filter((x) => x.kind.endsWith('Binding')))
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'rotor', namespace: 'ops' }]);
  });

  it('--scan-group adds a group to the scan, list only, in the scan ClusterRole and in --scope cluster, and refuses what is no group', async () => {
    const env = { TEMPORAL_ADDRESS: '127.0.0.1:1', KUBECONFIG: '' };
    const scan = (docs: any[], name: string) => docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === name).rules as Rule[];
    const listed = (rules: Rule[], group: string) => rules.filter((r) => r.apiGroups.includes(group)).flatMap((r) => r.verbs);
    const plain = parseAllDocuments((await rotor(['rbac', '-f', join(repoRoot, 'examples', 'plan.yaml')], env)).stdout).map((d) => d.toJS());
    assert.deepEqual(listed(scan(plain, 'rotor-worker-scan'), 'example.com'), [], 'not listed unless asked');
    const args = ['--scan-group', 'example.com', '--scan-group', 'db.example.io', '--scan-group', 'example.com', '--scan-group', 'keda.sh'];
    const more = await rotor(['rbac', '-f', join(repoRoot, 'examples', 'plan.yaml'), ...args], env);
    assert.equal(more.code, 0, more.stderr);
    const rules = scan(
      parseAllDocuments(more.stdout).map((d) => d.toJS()),
      'rotor-worker-scan',
    );
    assert.deepEqual(listed(rules, 'example.com'), ['list']);
    assert.deepEqual(listed(rules, 'db.example.io'), ['list']);
    assert.equal(rules.flatMap((r) => r.apiGroups).filter((g) => g === 'example.com' || g === 'keda.sh').length, 2, 'each group once, the operators kept');
    const cluster = await rotor(['rbac', '--scope', 'cluster', '--output', 'helm-values', '--scan-group', 'example.com'], env);
    assert.equal(cluster.code, 0, cluster.stderr);
    const values = parse(cluster.stdout) as { rbac: { clusterRoles: { name: string; rules: Rule[] }[] } };
    assert.deepEqual(listed(values.rbac.clusterRoles[0].rules, 'example.com'), ['list']);
    for (const bad of ['', '*', 'Example.com', 'example.com/v1']) {
      const refused = await rotor(['rbac', '-f', join(repoRoot, 'examples', 'plan.yaml'), '--scan-group', bad], env);
      assert.equal(refused.code, 2, `--scan-group ${JSON.stringify(bad)}`);
      assert.equal(refused.stdout, '');
      assert.match(refused.stderr, /--scan-group ".*" is not an API group: give a custom resource's group as `kubectl api-resources` shows it/);
    }
    const alone = await rotor(['rbac', '--admission', '--scan-group', 'example.com'], env);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--scan-group adds to the reference scan's ClusterRole, which --admission alone does not print/);
  });

  it('prints the manifests from the CLI, and refuses a bad plan or ServiceAccount before printing anything', async () => {
    const env = { TEMPORAL_ADDRESS: '127.0.0.1:1', KUBECONFIG: '' };
    const ok = await rotor(['rbac', '-f', join(repoRoot, 'examples', 'plan.yaml'), '--service-account', 'ops/rotor'], env);
    assert.equal(ok.code, 0, ok.stderr);
    const docs = parseAllDocuments(ok.stdout).map((d) => d.toJS());
    assert.deepEqual(docs.map((d) => d.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'Role', 'Role', 'RoleBinding', 'RoleBinding']);
    const dir = mkdtempSync(join(tmpdir(), 'rotor-rbac-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'secret: x\nstages: []\n');
    const refused = await rotor(['rbac', '-f', join(repoRoot, 'examples', 'plan.yaml'), '-f', bad], env);
    assert.equal(refused.code, 2);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')} has \\d+ errors?`));
    const account = await rotor(['rbac', '-f', join(repoRoot, 'examples', 'plan.yaml'), '--service-account', 'rotor-worker'], env);
    assert.equal(account.code, 2);
    assert.match(account.stderr, /--service-account "rotor-worker" is not <namespace>\/<name>; write it like rotor-system\/rotor-worker/);
  });
});
