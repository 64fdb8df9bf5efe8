// `rotor versions` against a real kube-apiserver, as kubectl's user runs it: -n from the kubeconfig
// context's namespace (then default), --context and --kubeconfig, -o json, namespaces with no Secrets
// or that do not exist, and a cluster that does not answer.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from '../sandbox/control-plane';
import { rotor } from './helpers/cli';
import { authDeployment } from './helpers/e2e-objects';

const BASE = 'app-secrets';
const OLD = `${BASE}-20250101000000`;
const NEW = `${BASE}-20250301000000`;

let plane: ControlPlane;
let dir: string;
/** The sandbox's kubeconfig with two more contexts: team-a (namespace team-a) and team-b (namespace team-b). */
let kubeconfig: string;
// Nothing here may reach a Temporal server; KUBECONFIG is set per case.
const env = (extra: NodeJS.ProcessEnv = {}) => ({ TEMPORAL_ADDRESS: '127.0.0.1:1', KUBECONFIG: '', ...extra });

before(async () => {
  plane = await startControlPlane();
  dir = mkdtempSync(join(tmpdir(), 'rotor-versions-'));
  const config = parse(readFileSync(plane.kubeconfig, 'utf8'));
  const base = config.contexts[0].context;
  config.contexts.push({ name: 'team-a', context: { ...base, namespace: 'team-a' } }, { name: 'team-b', context: { ...base, namespace: 'team-b' } });
  config['current-context'] = 'team-a';
  kubeconfig = join(dir, 'teams.kubeconfig');
  writeFileSync(kubeconfig, stringify(config));

  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  for (const name of ['team-a', 'team-b', 'empty']) await core.createNamespace({ body: { metadata: { name } } });
  for (const name of [OLD, NEW]) {
    await core.createNamespacedSecret({ namespace: 'team-a', body: { metadata: { name, labels: { 'rotor.dev/secret': BASE } }, data: { token: 'c2VjcmV0' } } });
  }
  // No pods run without the simulator; the scan reads the Deployment's template.
  await apps.createNamespacedDeployment({ namespace: 'team-a', body: authDeployment('api', NEW) });
});

after(async () => {
  await plane?.stop();
});

describe('rotor versions on a real apiserver', () => {
  it('reads -n from the kubeconfig context, then default; --context picks another', async () => {
    const fromContext = await rotor(['versions', BASE], env({ KUBECONFIG: kubeconfig }));
    assert.equal(fromContext.code, 0, fromContext.stderr);
    const lines = fromContext.stdout.trim().split('\n');
    assert.match(lines[0], /^VERSION +AGE +STATE +USED BY$/);
    assert.match(lines[1], new RegExp(`^${NEW} +\\d+s +current +Deployment/api$`));
    assert.match(lines[2], new RegExp(`^${OLD} +\\d+s +- +\\(none\\)$`));

    const teamB = await rotor(['versions', BASE, '--context', 'team-b', '--kubeconfig', kubeconfig], env());
    assert.equal(teamB.code, 0, teamB.stderr);
    assert.equal(teamB.stdout, `no version of ${BASE} in namespace team-b (context team-b)\n`);
    // The sandbox's own context names no namespace: default.
    const sandbox = await rotor(['versions', BASE, '--kubeconfig', plane.kubeconfig], env());
    assert.equal(sandbox.stdout, `no version of ${BASE} in namespace default (context rotor-sandbox)\n`);
    // -n wins over the context's namespace.
    const explicit = await rotor(['versions', BASE, '-n', 'team-a', '--context', 'team-b'], env({ KUBECONFIG: kubeconfig }));
    assert.match(explicit.stdout, new RegExp(`^${NEW} +\\d+s +current`, 'm'));
  });

  it('answers for a namespace with no Secrets, and one that does not exist', async () => {
    for (const namespace of ['empty', 'nowhere']) {
      const r = await rotor(['versions', BASE, '-n', namespace], env({ KUBECONFIG: plane.kubeconfig }));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `no version of ${BASE} in namespace ${namespace} (context rotor-sandbox)\n`);
      assert.equal(r.stderr, '');
    }
  });

  it('prints -o json and -o wide', async () => {
    const json = await rotor(['versions', BASE, '-o', 'json'], env({ KUBECONFIG: kubeconfig }));
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.namespace, 'team-a');
    assert.equal(parsed.context, 'team-a');
    assert.deepEqual(
      parsed.versions.map((v: { name: string; state: string; usedBy: string[] }) => [v.name, v.state, v.usedBy]),
      [
        [NEW, 'current', ['Deployment/api']],
        [OLD, '-', []],
      ],
    );
    assert.match(parsed.versions[0].createdAt, /^\d{4}-\d\d-\d\dT/);
    const wide = await rotor(['versions', BASE, '-o', 'wide', '--kubeconfig', kubeconfig], env());
    assert.match(wide.stdout, /^VERSION +AGE +CREATED +STATE +TYPE +USED BY\n/);
    assert.match(wide.stdout, new RegExp(`\\n${NEW} +\\d+s +\\d{4}-[\\d-]+T[\\d:.]+Z +current +Opaque +Deployment/api`));
  });

  it('says which cluster did not answer, and how to check it without rotor', async () => {
    const config = readFileSync(plane.kubeconfig, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:1');
    const down = join(dir, 'down.kubeconfig');
    writeFileSync(down, config);
    const r = await rotor(['versions', BASE, '--kubeconfig', down], env());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^rotor: list Secrets in default \(metadata only\): .*ECONNREFUSED 127\.0\.0\.1:1\n/);
    assert.match(
      r.stderr,
      /\n\(cluster https:\/\/127\.0\.0\.1:1, context rotor-sandbox in \S+down\.kubeconfig \(from --kubeconfig\)\); check it with: kubectl --kubeconfig \S+down\.kubeconfig --context rotor-sandbox get secrets -n default\n$/,
    );
  });
});
