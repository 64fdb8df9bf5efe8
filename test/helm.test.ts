// The Helm chart deploy/helm/rotor (built by the bootstrap: helm.sh/helm/v3 from the Go module proxy):
// `helm lint`, its output taken by the sandbox's real kube-apiserver in a server-side dry run (schemas,
// strict field validation, RBAC objects), what its RBAC values grant asked of that apiserver, and
// deploy/*.yaml as the chart's render with deploy/helm/values-cluster.yaml, byte for byte.
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

const CHART = 'deploy/helm/rotor';
const CLUSTER_VALUES = 'deploy/helm/values-cluster.yaml';

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

  it('helm lint --strict passes with the default values and with values-cluster.yaml', async () => {
    for (const values of [[], ['-f', CLUSTER_VALUES]]) {
      const out = await helm(['lint', '--strict', CHART, ...values]);
      assert.equal(out.status, 0, `helm lint ${values.join(' ')}:\n${out.stdout}${out.stderr}`);
      assert.match(out.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('refuses, naming the value, what the worker or the apiserver would refuse later', async () => {
    const refused: [string[], RegExp][] = [
      // values.schema.json names the value by its path
      [['--set', 'rbac.scope=everywhere'], /\/rbac\/scope/],
      [['--set', 'temporla.address=x:7233'], /'temporla' not allowed/],
      [['--set', 'kubePageSize=9000'], /\/kubePageSize/],
      [['--set', 'metrics.datadog.site=datadoghq.org'], /\/metrics\/datadog\/site/],
      [['--set', 'metrics.prometheus.url=https://user:pass@prometheus:9090'], /\/metrics\/prometheus\/url/],
      // the templates' own checks, for what spans values
      [['--set', 'issuer.url=https://issuer.internal:8443'], /issuer\.tokenSecret/],
      [['--set', 'stores={kubernetes,external-secrets}'], /rbac\.externalSecrets=true/],
    ];
    for (const [args, expected] of refused) {
      const out = await helm(['template', 'rotor', CHART, ...args]);
      assert.notEqual(out.status, 0, `helm template ${args.join(' ')} rendered:\n${out.stdout}`);
      assert.match(out.stderr, expected, `helm template ${args.join(' ')}`);
      assert.doesNotMatch(out.stderr, /user:pass/, 'a credential in a value is not echoed back');
    }
  });

  it('the default values: the apiserver takes them in a server-side dry run; the worker may change nothing yet', async () => {
    const manifests = await template([]);
    assert.deepEqual(
      objects(manifests)
        .map((o) => o.kind)
        .sort(),
      ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'ServiceAccount'],
    );
    const applied = await dryRun(manifests);
    assert.match(applied, /clusterrole\.rbac\.authorization\.k8s\.io\/rotor-worker-scan created \(server dry run\)/);
    assert.match(applied, /deployment\.apps\/rotor-worker created \(server dry run\)/);
  });

  it('every setting the worker reads renders into an object the apiserver takes', async () => {
    const manifests = await template([
      ...['--set', 'rbac.namespaces={staging,production}', '--set', 'rbac.externalSecrets=true'],
      ...['--set', 'stores={kubernetes,aws-secrets-manager,external-secrets}', '--set', 'aws.region=eu-west-1'],
      ...['--set', 'metrics.prometheus.url=http://prometheus.monitoring:9090', '--set', 'metrics.prometheus.credentialsSecret=rotor-prometheus'],
      ...['--set', 'metrics.datadog.credentialsSecret=rotor-datadog', '--set', 'metrics.datadog.site=datadoghq.eu', '--set', 'metrics.datadog.timeout=20s'],
      ...['--set', 'issuer.url=https://issuer.internal:8443', '--set', 'issuer.tokenSecret=rotor-issuer', '--set', 'issuer.timeout=5s'],
      ...['--set', 'valueFiles.secretName=rotor-values', '--set', 'deploymentId=prod-eu-1', '--set', 'kubePageSize=100'],
      ...['--set', 'argocdInstanceLabel=app.kubernetes.io/instance', '--set', 'replicas=2'],
    ]);
    const applied = await dryRun(manifests);
    // One Role and one RoleBinding in each listed namespace (kubectl names neither namespace in its answer).
    assert.equal(applied.match(/^role\.rbac\.authorization\.k8s\.io\/rotor-worker created \(server dry run\)$/gm)?.length, 2, applied);
    assert.equal(applied.match(/^rolebinding\.rbac\.authorization\.k8s\.io\/rotor-worker created \(server dry run\)$/gm)?.length, 2, applied);
    for (const ns of ['staging', 'production']) {
      assert.match(manifests, new RegExp(`kind: Role\\nmetadata:\\n  name: rotor-worker\\n  namespace: ${ns}\\n`));
      assert.match(manifests, new RegExp(`kind: RoleBinding\\nmetadata:\\n  name: rotor-worker\\n  namespace: ${ns}\\n`));
    }
    const deployment = objects(manifests).find((o) => o.kind === 'Deployment');
    const env = Object.fromEntries(
      deployment.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`]),
    );
    assert.deepEqual(env, {
      TEMPORAL_ADDRESS: 'temporal-frontend.temporal:7233',
      TEMPORAL_NAMESPACE: 'default',
      ROTOR_TASK_QUEUE: 'rotor',
      ROTOR_BACKEND: 'kubernetes',
      ROTOR_CODEC_KEYS_FILE: '/etc/rotor/codec/keys',
      ROTOR_VALUE_DIR: '/etc/rotor/values',
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
      ROTOR_PROMETHEUS_TOKEN_FILE: '/etc/rotor/credentials/prometheus/token',
      DD_API_KEY_FILE: '/etc/rotor/credentials/datadog/api-key',
      DD_APP_KEY_FILE: '/etc/rotor/credentials/datadog/app-key',
      ROTOR_ISSUER_TOKEN_FILE: '/etc/rotor/credentials/issuer/token',
    });
    // Each credential Secret a volume every user may not read, mounted where its variables point.
    const spec = deployment.spec.template.spec;
    assert.deepEqual(
      spec.volumes.filter((v: any) => v.name.endsWith('-credentials')).map((v: any) => [v.name, v.secret.secretName, v.secret.defaultMode]),
      [
        ['prometheus-credentials', 'rotor-prometheus', 0o440],
        ['datadog-credentials', 'rotor-datadog', 0o440],
        ['issuer-credentials', 'rotor-issuer', 0o440],
      ],
    );
    assert.deepEqual(
      spec.containers[0].volumeMounts.filter((m: any) => m.name.endsWith('-credentials')).map((m: any) => m.mountPath),
      ['/etc/rotor/credentials/prometheus', '/etc/rotor/credentials/datadog', '/etc/rotor/credentials/issuer'],
    );
    // Basic auth: the username as a reference, the password as a file.
    const basic = objects(
      await template([
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
    const manifests = await template(['--set-json', 'podSecurityContext={"runAsNonRoot":true,"runAsUsr":1000}']);
    const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], manifests);
    assert.notEqual(out.status, 0, `the apiserver took an unknown field:\n${out.stdout}`);
    assert.match(out.stderr, /runAsUsr/);
  });

  it('values-cluster.yaml (deploy/*.yaml): the apiserver takes them in a server-side dry run', async () => {
    const applied = await dryRun(await template(['-f', CLUSTER_VALUES]));
    assert.match(applied, /namespace\/rotor-system (configured|unchanged) \(server dry run\)/);
    assert.match(applied, /clusterrole\.rbac\.authorization\.k8s\.io\/rotor-worker created \(server dry run\)/);
    assert.match(applied, /clusterrolebinding\.rbac\.authorization\.k8s\.io\/rotor-worker created \(server dry run\)/);
  });

  it('scope namespaced grants changes in the listed namespaces only, and the scan everywhere without Secrets', async () => {
    // Applied for real, as its own release, so the apiserver can say what the ServiceAccount may do.
    const rbac = ['--show-only', 'templates/serviceaccount.yaml', '--show-only', 'templates/rbac.yaml'];
    const manifests = await template(['--set', 'rbac.namespaces={staging}', ...rbac], ['scoped', '--namespace', 'scoped-system']);
    const out = await kubectl(['apply', '-f', '-'], manifests);
    assert.equal(out.status, 0, out.stderr);
    const sa = 'scoped-system:scoped-worker';
    assert.equal(await canI(sa, 'create', 'secrets', 'staging'), true);
    assert.equal(await canI(sa, 'patch', 'deployments.apps', 'staging'), true);
    assert.equal(await canI(sa, 'create', 'leases.coordination.k8s.io', 'staging'), true);
    assert.equal(await canI(sa, 'create', 'secrets', 'production'), false, 'a namespace not listed');
    assert.equal(await canI(sa, 'patch', 'deployments.apps', 'production'), false, 'a namespace not listed');
    assert.equal(await canI(sa, 'list', 'secrets', 'staging'), false, 'Secrets are never listed');
    assert.equal(await canI(sa, 'list', 'secrets', null), false, 'Secrets are never listed');
    assert.equal(await canI(sa, 'list', 'pods', null), true, 'the scan lists pods everywhere');
    assert.equal(await canI(sa, 'list', 'ingresses.networking.k8s.io', null), true, 'the scan lists every group everywhere');
    assert.equal(await canI(sa, 'create', 'externalsecrets.external-secrets.io', 'staging'), false, 'rbac.externalSecrets is off by default');
  });

  it('deploy/rbac.yaml and deploy/worker.yaml are the chart rendered with values-cluster.yaml, byte for byte', async () => {
    const out = join(scratch, 'rendered');
    const render = await run(process.execPath, [join(repoRoot, 'scripts', 'render-deploy.mjs'), '--out', out]);
    assert.equal(render.status, 0, render.stderr);
    for (const file of ['rbac.yaml', 'worker.yaml']) {
      const committed = readFileSync(join(repoRoot, 'deploy', file), 'utf8');
      const fresh = readFileSync(join(out, file), 'utf8');
      const line = fresh.split('\n').findIndex((l, i) => l !== committed.split('\n')[i]);
      assert.ok(
        fresh === committed,
        `deploy/${file} differs from the chart's render at line ${line + 1}: run \`npm run deploy:render\` and commit what it writes`,
      );
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
    assert.equal(readFileSync(join(out, 'rbac.yaml'), 'utf8'), readFileSync(join(repoRoot, 'deploy', 'rbac.yaml'), 'utf8'));
    assert.notEqual(readFileSync(join(out, 'worker.yaml'), 'utf8'), readFileSync(join(repoRoot, 'deploy', 'worker.yaml'), 'utf8'));
  });

  it("the chart's appVersion is rotor's release, the image's default tag", async () => {
    const chart = parse(readFileSync(join(repoRoot, CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.appVersion, pkg.version, 'raise appVersion in Chart.yaml with package.json and run `npm run deploy:render`');
    assert.match(await template([]), new RegExp(`image: "rotor:${pkg.version.replace(/\./g, '\\.')}"`));
  });
});
