// The Helm chart deploy/helm/rotor (built by the bootstrap: helm.sh/helm/v3 from the Go module proxy):
// `helm lint`, its output taken by the sandbox's real kube-apiserver in a server-side dry run (schemas,
// strict field validation, RBAC and admission objects), what the RBAC values rotor rbac writes grant,
// asked of that apiserver, and deploy/*.yaml as the chart's render with those values, byte for byte,
// holding the very objects `rotor rbac` prints: the chart renders rotor rbac's rules, it has none.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { startControlPlane } from '../sandbox';
import type { ControlPlane } from '../sandbox/control-plane';
import { helmBinary, repoRoot } from '../sandbox/tools';
import { rotor } from './helpers/cli';

const CHART = 'deploy/helm/rotor';
/** The hand-written values of deploy/*.yaml, and the RBAC values rotor rbac writes for them (npm run deploy:render). */
const DEPLOY_VALUES = ['-f', 'deploy/helm/values-deploy.yaml'];
const RBAC_VALUES = ['-f', 'deploy/helm/values-rbac.yaml'];
const CLUSTER_VALUES = ['-f', 'deploy/helm/values-rbac-cluster.yaml'];
/** What deploy:render writes: the files of deploy/ and the generated values. */
const RENDERED = ['rbac.yaml', 'rbac-cluster.yaml', 'worker.yaml', 'helm/values-rbac.yaml', 'helm/values-rbac-cluster.yaml'];
const CLI_ENV = { TEMPORAL_ADDRESS: '127.0.0.1:1', KUBECONFIG: '' };

let plane: ControlPlane;
let scratch: string;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A command from the repository's root, with `input` on its stdin; never throws on a failed exit. */
function run(bin: string, args: string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('error', reject);
    proc.on('close', (status) => resolve({ status, stdout, stderr }));
    proc.stdin.end(input);
  });
}

const helm = (args: string[]) => run(helmBinary(), args);
const kubectl = (args: string[], input = '') => run(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, ...args], input);

/** `helm template` of the chart as release `rotor` in rotor-system; fails the test if it does not render. */
async function template(args: string[], release = ['rotor', '--namespace', 'rotor-system']): Promise<string> {
  const out = await helm(['template', ...release, CHART, ...args]);
  assert.equal(out.status, 0, `helm template ${args.join(' ')} failed:\n${out.stderr}`);
  return out.stdout;
}

/** The objects of a multi-document render. */
function objects(manifests: string): any[] {
  return parseAllDocuments(manifests)
    .map((doc) => doc.toJS())
    .filter((o) => o?.kind);
}

/**
 * The RBAC and admission objects of a YAML stream, as what they grant and confine: kind, name,
 * namespace, rules, roleRef, subjects and spec, not labels (the chart's are its own), in a stable order.
 */
function grants(manifests: string): object[] {
  const kinds = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];
  const key = (o: { kind: string; namespace?: string; name: string }) => `${o.kind}/${o.namespace ?? ''}/${o.name}`;
  return objects(manifests)
    .filter((o) => kinds.includes(o.kind))
    .map((o) => ({
      kind: o.kind,
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      rules: o.rules,
      roleRef: o.roleRef,
      subjects: o.subjects,
      spec: o.spec,
    }))
    .sort((a, b) => key(a).localeCompare(key(b)));
}

async function dryRun(manifests: string): Promise<string> {
  const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], manifests);
  assert.equal(out.status, 0, `the apiserver refused the chart's output:\n${out.stderr}`);
  return out.stdout;
}

/** What `kubectl auth can-i` answers for a ServiceAccount (the apiserver's own RBAC decision). */
async function canI(serviceAccount: string, verb: string, resource: string, namespace: string | null): Promise<boolean> {
  const where = namespace ? ['-n', namespace] : ['--all-namespaces'];
  const out = await kubectl(['auth', 'can-i', verb, resource, ...where, `--as=system:serviceaccount:${serviceAccount}`]);
  assert.ok(out.stdout.trim() === 'yes' || out.stdout.trim() === 'no', `kubectl auth can-i answered ${out.stdout} ${out.stderr}`);
  return out.stdout.trim() === 'yes';
}

describe('Helm chart deploy/helm/rotor', () => {
  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'rotor-helm-'));
    plane = await startControlPlane();
    // As `helm install --create-namespace` would, and the plans' namespaces, which exist before any install.
    for (const ns of ['rotor-system', 'scoped-system', 'staging', 'production']) {
      const out = await kubectl(['create', 'namespace', ns]);
      assert.equal(out.status, 0, out.stderr);
    }
  });

  after(async () => {
    await plane?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('helm lint --strict passes with the RBAC values rotor rbac writes, namespaced and cluster', async () => {
    for (const values of [RBAC_VALUES, CLUSTER_VALUES, [...DEPLOY_VALUES, ...RBAC_VALUES]]) {
      const out = await helm(['lint', '--strict', CHART, ...values]);
      assert.equal(out.status, 0, `helm lint ${values.join(' ')}:\n${out.stdout}${out.stderr}`);
      assert.match(out.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('refuses, naming the value, what the worker or the apiserver would refuse later', async () => {
    const refused: [string[], RegExp][] = [
      // values.schema.json names the value by its path
      [['--set', 'rbac.scope=cluster'], /at '\/rbac': additional properties 'scope' not allowed/],
      [['--set-json', 'rbac.roles=[{"name":"rotor-worker","rules":[]}]'], /\/rbac\/roles\/0/],
      [['--set', 'temporla.address=x:7233'], /'temporla' not allowed/],
      [['--set', 'kubePageSize=9000'], /\/kubePageSize/],
      [['--set', 'metrics.datadog.site=datadoghq.org'], /\/metrics\/datadog\/site/],
      [['--set', 'metrics.prometheus.url=https://user:pass@prometheus:9090'], /\/metrics\/prometheus\/url/],
      // the templates' own checks, for what spans values
      [['--set', 'issuer.url=https://issuer.internal:8443'], /issuer\.tokenSecret/],
      [['--set', 'git.username=rotor-bot'], /git\.username is set without git\.tokenSecret/],
      [['--set', 'notify.defaults=ops-webhook'], /notify\.defaults is set without notify\.secretName/],
      [['--set', 'temporal.uiUrl=temporal.example.com'], /\/temporal\/uiUrl/],
      [['--set', 'workerMetrics.port=70000'], /\/workerMetrics\/port/],
      [['--set', 'workerTuning.maxActivities=0'], /\/workerTuning\/maxActivities/],
      [['--set', 'git.tokenSecret=rotor-git', '--set', 'git.sshSecret=rotor-git-ssh'], /set git\.tokenSecret \(HTTPS\) or git\.sshSecret \(SSH\), not both/],
      [
        ['--set', 'stores={kubernetes,external-secrets}'],
        /stores names external-secrets but no rule of rbac\.roles or rbac\.clusterRoles grants externalsecrets create/,
      ],
    ];
    for (const [args, expected] of refused) {
      const out = await helm(['template', 'rotor', CHART, '--namespace', 'rotor-system', ...RBAC_VALUES, ...args]);
      assert.notEqual(out.status, 0, `helm template ${args.join(' ')} rendered:\n${out.stdout}`);
      assert.match(out.stderr, expected, `helm template ${args.join(' ')}`);
      assert.doesNotMatch(out.stderr, /user:pass/, 'a credential in a value is not echoed back');
    }
  });

  it('refuses RBAC without rules, and values made for another ServiceAccount, naming the value and the fix', async () => {
    const refusal = async (args: string[], release = ['rotor', '--namespace', 'rotor-system']) => {
      const out = await helm(['template', ...release, CHART, ...args]);
      assert.notEqual(out.status, 0, `helm template ${args.join(' ')} rendered:\n${out.stdout}`);
      return out.stderr;
    };
    // The default values hold no rules: rbac.create would grant nothing.
    assert.match(
      await refusal([]),
      /rbac\.create is true but rbac\.clusterRoles and rbac\.roles are empty: generate them from the plans the worker runs, `rotor rbac -f plan\.yaml --admission --output helm-values > rbac-values\.yaml`, and pass -f rbac-values\.yaml \(or `rotor rbac --scope cluster --output helm-values` for the opt-in ClusterRole in every namespace\)/,
    );
    // Made for rotor-system/rotor-worker, installed elsewhere or under another name: the policy would confine nobody.
    const another =
      /rbac\.serviceAccount is "rotor-system\/rotor-worker" but this release's ServiceAccount is (ops\/rotor-worker|rotor-system\/rotor-bot): generate the values for it, `rotor rbac -f plan\.yaml --admission --service-account \1 --output helm-values > rbac-values\.yaml`, and pass -f rbac-values\.yaml \(the admission policy names the ServiceAccount it confines; for another, it would confine nobody\)/;
    assert.match(await refusal(RBAC_VALUES, ['rotor', '--namespace', 'ops']), another);
    assert.match(await refusal([...RBAC_VALUES, '--set', 'serviceAccount.name=rotor-bot']), another);
    // The admission policy alone (rbac.create false) is held to the same ServiceAccount, and to its matchCondition.
    assert.match(await refusal([...RBAC_VALUES, '--set', 'rbac.create=false'], ['rotor', '--namespace', 'ops']), another);
    assert.match(
      await refusal([...RBAC_VALUES, '--set-json', 'admission.policy.matchConditions=[]']),
      /admission\.policy\.matchConditions do not name 'system:serviceaccount:rotor-system:rotor-worker', this release's ServiceAccount/,
    );
    assert.match(
      await refusal(['--set', 'rbac.create=false', '--set', 'admission.create=true']),
      /admission\.create is true but admission\.name, admission\.policy/,
    );
  });

  it('rbac.create false: the apiserver takes the rest in a server-side dry run', async () => {
    const manifests = await template(['--set', 'rbac.create=false']);
    assert.deepEqual(
      objects(manifests)
        .map((o) => o.kind)
        .sort(),
      ['Deployment', 'ServiceAccount'],
    );
    const applied = await dryRun(manifests);
    assert.match(applied, /deployment\.apps\/rotor-worker created \(server dry run\)/);
  });

  it('every setting the worker reads renders into an object the apiserver takes', async () => {
    // The cluster values: the only ones of deploy/helm/ that grant External Secrets' rules, which that store needs.
    const manifests = await template([
      ...CLUSTER_VALUES,
      ...['--set', 'stores={kubernetes,aws-secrets-manager,external-secrets}', '--set', 'aws.region=eu-west-1'],
      ...['--set', 'metrics.prometheus.url=http://prometheus.monitoring:9090', '--set', 'metrics.prometheus.credentialsSecret=rotor-prometheus'],
      ...['--set', 'metrics.datadog.credentialsSecret=rotor-datadog', '--set', 'metrics.datadog.site=datadoghq.eu', '--set', 'metrics.datadog.timeout=20s'],
      ...['--set', 'issuer.url=https://issuer.internal:8443', '--set', 'issuer.tokenSecret=rotor-issuer', '--set', 'issuer.timeout=5s'],
      ...['--set', 'valueFiles.secretName=rotor-values', '--set', 'deploymentId=prod-eu-1', '--set', 'kubePageSize=100'],
      ...['--set', 'argocdInstanceLabel=app.kubernetes.io/instance', '--set', 'replicas=2'],
      ...['--set', 'workerTuning.maxActivities=2000', '--set', 'workerTuning.cachedWorkflows=3000'],
      ...['--set', 'git.tokenSecret=rotor-git', '--set', 'git.username=rotor-bot'],
      ...[
        '--set',
        'notify.secretName=rotor-notify',
        '--set',
        'notify.defaults=ops-webhook=rolled_back+failed',
        '--set',
        'temporal.uiUrl=https://temporal.example.com',
      ],
    ]);
    const applied = await dryRun(manifests);
    assert.match(applied, /clusterrole\.rbac\.authorization\.k8s\.io\/rotor-worker created \(server dry run\)/);
    assert.match(applied, /validatingadmissionpolicy\.admissionregistration\.k8s\.io\/rotor-worker-confinement created \(server dry run\)/);
    const deployment = objects(manifests).find((o) => o.kind === 'Deployment');
    const env = Object.fromEntries(
      deployment.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`]),
    );
    assert.deepEqual(env, {
      TEMPORAL_ADDRESS: 'temporal-frontend.temporal:7233',
      TEMPORAL_NAMESPACE: 'default',
      ROTOR_TASK_QUEUE: 'rotor',
      ROTOR_BACKEND: 'kubernetes',
      ROTOR_METRICS_ADDR: ':9464',
      ROTOR_CODEC_KEYS_FILE: '/etc/rotor/codec/keys',
      ROTOR_VALUE_DIR: '/etc/rotor/values',
      ROTOR_NOTIFY_FILE: '/etc/rotor/notify/notify.yaml',
      ROTOR_STORES: 'kubernetes,aws-secrets-manager,external-secrets',
      AWS_REGION: 'eu-west-1',
      ROTOR_PROMETHEUS_URL: 'http://prometheus.monitoring:9090',
      DD_SITE: 'datadoghq.eu',
      ROTOR_DATADOG_TIMEOUT: '20s',
      ROTOR_ISSUER_URL: 'https://issuer.internal:8443',
      ROTOR_ISSUER_TIMEOUT: '5s',
      ROTOR_DEPLOYMENT_ID: 'prod-eu-1',
      ROTOR_ARGOCD_INSTANCE_LABEL: 'app.kubernetes.io/instance',
      ROTOR_KUBE_PAGE_SIZE: '100',
      ROTOR_WORKER_MAX_ACTIVITIES: '2000',
      ROTOR_WORKER_CACHED_WORKFLOWS: '3000',
      TEMPORAL_UI_URL: 'https://temporal.example.com',
      ROTOR_NOTIFY_DEFAULT: 'ops-webhook=rolled_back+failed',
      ROTOR_PROMETHEUS_TOKEN_FILE: '/etc/rotor/credentials/prometheus/token',
      DD_API_KEY_FILE: '/etc/rotor/credentials/datadog/api-key',
      DD_APP_KEY_FILE: '/etc/rotor/credentials/datadog/app-key',
      ROTOR_ISSUER_TOKEN_FILE: '/etc/rotor/credentials/issuer/token',
      ROTOR_GIT_USERNAME: 'rotor-bot',
      ROTOR_GIT_TOKEN_FILE: '/etc/rotor/credentials/git/token',
    });
    // Each credential Secret a volume every user may not read, mounted where its variables point.
    const spec = deployment.spec.template.spec;
    assert.deepEqual(
      spec.volumes.filter((v: any) => v.name === 'notify').map((v: any) => [v.secret.secretName, v.secret.defaultMode]),
      [['rotor-notify', 0o440]],
    );
    assert.ok(spec.containers[0].volumeMounts.some((m: any) => m.name === 'notify' && m.mountPath === '/etc/rotor/notify' && m.readOnly));
    // The worker's metrics port, and the annotations a pod-discovering Prometheus scrapes by.
    assert.deepEqual(spec.containers[0].ports, [{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    assert.equal(deployment.spec.template.metadata.annotations['prometheus.io/port'], '9464');
    assert.deepEqual(
      spec.volumes.filter((v: any) => v.name.endsWith('-credentials')).map((v: any) => [v.name, v.secret.secretName, v.secret.defaultMode]),
      [
        ['prometheus-credentials', 'rotor-prometheus', 0o440],
        ['datadog-credentials', 'rotor-datadog', 0o440],
        ['git-credentials', 'rotor-git', 0o440],
        ['issuer-credentials', 'rotor-issuer', 0o440],
      ],
    );
    assert.deepEqual(
      spec.containers[0].volumeMounts.filter((m: any) => m.name.endsWith('-credentials')).map((m: any) => m.mountPath),
      ['/etc/rotor/credentials/prometheus', '/etc/rotor/credentials/datadog', '/etc/rotor/credentials/git', '/etc/rotor/credentials/issuer'],
    );
    // SSH: the key and known_hosts from one Secret, as two files.
    const ssh = objects(await template([...RBAC_VALUES, '--set', 'git.sshSecret=rotor-git-ssh'])).find((o) => o.kind === 'Deployment').spec.template.spec;
    assert.deepEqual(
      ssh.containers[0].env.filter((e: any) => e.name.startsWith('ROTOR_GIT_')),
      [
        { name: 'ROTOR_GIT_SSH_KEY_FILE', value: '/etc/rotor/credentials/git-ssh/ssh-privatekey' },
        { name: 'ROTOR_GIT_KNOWN_HOSTS_FILE', value: '/etc/rotor/credentials/git-ssh/known_hosts' },
      ],
    );
    // Basic auth: the username as a reference, the password as a file.
    const basic = objects(
      await template([
        ...RBAC_VALUES,
        ...['--set', 'metrics.prometheus.url=http://prometheus.monitoring:9090', '--set', 'metrics.prometheus.credentialsSecret=rotor-prometheus'],
        ...['--set', 'metrics.prometheus.auth=basic'],
      ]),
    ).find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].env;
    assert.deepEqual(
      basic.filter((e: any) => e.name.startsWith('ROTOR_PROMETHEUS_') && e.name !== 'ROTOR_PROMETHEUS_URL'),
      [
        { name: 'ROTOR_PROMETHEUS_PASSWORD_FILE', value: '/etc/rotor/credentials/prometheus/password' },
        { name: 'ROTOR_PROMETHEUS_USERNAME', valueFrom: { secretKeyRef: { name: 'rotor-prometheus', key: 'username' } } },
      ],
    );
  });

  it('the server-side dry run refuses what the apiserver would (strict field validation)', async () => {
    const manifests = await template([...RBAC_VALUES, '--set-json', 'podSecurityContext={"runAsNonRoot":true,"runAsUsr":1000}']);
    const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], manifests);
    assert.notEqual(out.status, 0, `the apiserver took an unknown field:\n${out.stdout}`);
    assert.match(out.stderr, /runAsUsr/);
  });

  it("deploy/*.yaml: the apiserver takes them in a server-side dry run (the example plans' namespaces exist)", async () => {
    for (const file of ['rbac.yaml', 'rbac-cluster.yaml']) {
      const out = await kubectl(['apply', '--dry-run=server', '-f', join(repoRoot, 'deploy', file), '-f', join(repoRoot, 'deploy', 'worker.yaml')]);
      assert.equal(out.status, 0, `the apiserver refused deploy/${file}:\n${out.stderr}`);
      assert.match(out.stdout, /namespace\/rotor-system (configured|unchanged) \(server dry run\)/);
      assert.match(out.stdout, /validatingadmissionpolicy\.admissionregistration\.k8s\.io\/rotor-worker-confinement created \(server dry run\)/);
      assert.match(out.stdout, /validatingadmissionpolicybinding\.admissionregistration\.k8s\.io\/rotor-worker-confinement created \(server dry run\)/);
      assert.match(out.stdout, /deployment\.apps\/rotor-worker created \(server dry run\)/);
    }
    const namespaced = await kubectl(['apply', '--dry-run=server', '-f', join(repoRoot, 'deploy', 'rbac.yaml')]);
    assert.match(namespaced.stdout, /clusterrole\.rbac\.authorization\.k8s\.io\/rotor-worker-scan created \(server dry run\)/);
    // One Role and one RoleBinding in staging and in production (kubectl names neither namespace in its answer).
    assert.equal(namespaced.stdout.match(/^role\.rbac\.authorization\.k8s\.io\/rotor-worker created \(server dry run\)$/gm)?.length, 2, namespaced.stdout);
    assert.equal(
      namespaced.stdout.match(/^rolebinding\.rbac\.authorization\.k8s\.io\/rotor-worker created \(server dry run\)$/gm)?.length,
      2,
      namespaced.stdout,
    );
    const cluster = await kubectl(['apply', '--dry-run=server', '-f', join(repoRoot, 'deploy', 'rbac-cluster.yaml')]);
    assert.match(cluster.stdout, /clusterrole\.rbac\.authorization\.k8s\.io\/rotor-worker created \(server dry run\)/);
    assert.doesNotMatch(cluster.stdout, /^role\./m);
  });

  it("rotor rbac's values for a plan grant changes in its namespaces only, the scan everywhere without Secrets, and confine the worker", async () => {
    // Generated for this release's ServiceAccount, applied for real, so the apiserver can say what it may do.
    const made = await rotor(
      ['rbac', '-f', 'examples/plan.yaml', '--admission', '--service-account', 'scoped-system/scoped-worker', '--output', 'helm-values'],
      CLI_ENV,
    );
    assert.equal(made.code, 0, made.stderr);
    const values = join(scratch, 'scoped-values.yaml');
    writeFileSync(values, made.stdout);
    const show = ['templates/serviceaccount.yaml', 'templates/rbac.yaml', 'templates/admission.yaml'].flatMap((t) => ['--show-only', t]);
    const manifests = await template(['-f', values, ...show], ['scoped', '--namespace', 'scoped-system']);
    const out = await kubectl(['apply', '-f', '-'], manifests);
    assert.equal(out.status, 0, out.stderr);
    const sa = 'scoped-system:scoped-worker';
    assert.equal(await canI(sa, 'create', 'secrets', 'staging'), true);
    assert.equal(await canI(sa, 'patch', 'deployments.apps', 'staging'), true);
    assert.equal(await canI(sa, 'create', 'deployments.apps', 'production'), true, "production's canary");
    assert.equal(await canI(sa, 'create', 'deployments.apps', 'staging'), false, 'no canary in staging');
    assert.equal(await canI(sa, 'create', 'leases.coordination.k8s.io', 'staging'), true);
    assert.equal(await canI(sa, 'patch', 'replicasets.apps', 'staging'), false, 'a ReplicaSet is never switched');
    assert.equal(await canI(sa, 'create', 'secrets', 'qa'), false, 'a namespace no plan names');
    assert.equal(await canI(sa, 'patch', 'deployments.apps', 'qa'), false, 'a namespace no plan names');
    assert.equal(await canI(sa, 'list', 'secrets', 'staging'), false, 'Secrets are never listed');
    assert.equal(await canI(sa, 'list', 'secrets', null), false, 'Secrets are never listed');
    assert.equal(await canI(sa, 'list', 'pods', null), true, 'the scan lists pods everywhere');
    assert.equal(await canI(sa, 'list', 'ingresses.networking.k8s.io', null), true, 'the scan lists every group everywhere');
    assert.equal(await canI(sa, 'create', 'externalsecrets.external-secrets.io', 'staging'), false, 'no plan uses External Secrets');
    // The policy the chart rendered is enforced: a Secret RBAC allows but rotor would never make is refused.
    let refused: Run | undefined;
    for (let i = 0; i < 50; i++) {
      refused = await kubectl([
        'create',
        'secret',
        'generic',
        'by-hand',
        '-n',
        'staging',
        '--from-literal=k=v',
        '--dry-run=server',
        `--as=system:serviceaccount:${sa}`,
      ]);
      if (refused.status !== 0) break;
      await new Promise((r) => setTimeout(r, 200)); // the apiserver takes a moment to load a new policy
    }
    assert.match(refused!.stderr, /ValidatingAdmissionPolicy 'scoped-worker-confinement'.*rule secret-create/);
  });

  it("deploy/*.yaml and deploy/helm/values-rbac*.yaml are rotor rbac's values and the chart rendered with them, byte for byte", async () => {
    const out = join(scratch, 'rendered');
    const render = await run(process.execPath, [join(repoRoot, 'scripts', 'render-deploy.mjs'), '--out', out]);
    assert.equal(render.status, 0, render.stderr);
    for (const file of RENDERED) {
      const committed = readFileSync(join(repoRoot, 'deploy', file), 'utf8');
      const fresh = readFileSync(join(out, file), 'utf8');
      const line = fresh.split('\n').findIndex((l, i) => l !== committed.split('\n')[i]);
      assert.ok(
        fresh === committed,
        `deploy/${file} differs from a fresh render at line ${line + 1}: run \`npm run build && npm run deploy:render\` and commit what it writes`,
      );
    }
  });

  it('deploy/rbac.yaml holds the objects rotor rbac prints for the example plans, and deploy/rbac-cluster.yaml those of --scope cluster', async () => {
    const cases: [string, string[]][] = [
      ['rbac.yaml', ['-f', 'examples/plan.yaml', '-f', 'examples/plan-sandbox.yaml', '--admission']],
      ['rbac-cluster.yaml', ['--scope', 'cluster', '--admission']],
    ];
    for (const [file, args] of cases) {
      const printed = await rotor(['rbac', ...args], CLI_ENV);
      assert.equal(printed.code, 0, printed.stderr);
      const cli = grants(printed.stdout);
      const deployed = grants(readFileSync(join(repoRoot, 'deploy', file), 'utf8'));
      assert.deepEqual(
        deployed.map((o: any) => o.kind),
        cli.map((o: any) => o.kind),
      );
      assert.ok(
        cli.some((o: any) => o.kind === 'ValidatingAdmissionPolicy'),
        `rotor rbac ${args.join(' ')} prints the policy`,
      );
      assert.deepEqual(deployed, cli, `deploy/${file} grants other than rotor rbac ${args.join(' ')}: run \`npm run build && npm run deploy:render\``);
      // The comparison sees a rule changed: the chart's former ReplicaSets patch, here, is a difference.
      const changed = structuredClone(deployed) as any[];
      const rule = changed.flatMap((o) => o.rules ?? []).find((r: any) => r.resources.includes('replicasets'));
      rule.verbs.push('patch');
      assert.notDeepEqual(changed, cli);
    }
  });

  it('a changed chart renders different files (the comparison above can fail)', async () => {
    const chart = join(scratch, 'chart');
    cpSync(join(repoRoot, CHART), chart, { recursive: true });
    const values = join(chart, 'values.yaml');
    writeFileSync(values, readFileSync(values, 'utf8').replace('minReadySeconds: 30', 'minReadySeconds: 31'));
    const out = join(scratch, 'changed');
    const render = await run(process.execPath, [join(repoRoot, 'scripts', 'render-deploy.mjs'), '--out', out, '--chart', chart]);
    assert.equal(render.status, 0, render.stderr);
    for (const file of ['rbac.yaml', 'rbac-cluster.yaml', 'helm/values-rbac.yaml'])
      assert.equal(readFileSync(join(out, file), 'utf8'), readFileSync(join(repoRoot, 'deploy', file), 'utf8'));
    assert.notEqual(readFileSync(join(out, 'worker.yaml'), 'utf8'), readFileSync(join(repoRoot, 'deploy', 'worker.yaml'), 'utf8'));
  });

  it("the chart's appVersion is rotor's release, the image's default tag", async () => {
    const chart = parse(readFileSync(join(repoRoot, CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.appVersion, pkg.version, 'raise appVersion in Chart.yaml with package.json and run `npm run deploy:render`');
    assert.match(await template(RBAC_VALUES), new RegExp(`image: "rotor:${pkg.version.replace(/\./g, '\\.')}"`));
  });
});
