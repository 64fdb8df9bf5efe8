// `rotor plan`'s pure parts: how a holder refers, the canary's replicas per step, the rollback's JSON
// patch and kubectl commands (named cases, and randomized workloads: the switch's patch then the
// rollback's patch gives back the very object), shell quoting, and the report's text.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { parsePlan } from '../domain/plan';
import { preflightLines } from '../client/plan-dry-run/preflight';
import fc from 'fast-check';
import { applyJsonPatch } from '../activities/memory/rest';
import { switchPatch } from '../activities/kubernetes/patching';
import { greenName, ownershipKey } from '../activities/kubernetes/ownership';
import type { Obj } from '../activities/kubernetes/kinds';
import type { WorkloadKind } from '../domain/plan';
import { canaryReplicas, refersHow } from '../client/plan-dry-run/facts';
import { rollbackCommands, rollbackPatch, rollbackPreamble, shellQuote } from '../client/plan-dry-run/rollback';
import { formatPlanReport, type PlanReport } from '../client/plan-dry-run/report';
import { authDeployment } from '../sandbox/objects';

const PREV = 'app-secrets-20250101000000';
const NEW = 'app-secrets-20260101120000';
type Json = Record<string, unknown>;

describe('rotor plan: how a holder refers', () => {
  it('names each kind of reference', () => {
    const cases: [string, string][] = [
      ['containers[app].env[TOKEN].valueFrom.secretKeyRef.name', 'env'],
      ['initContainers[init].envFrom[].secretRef.name', 'envFrom'],
      ['volumes[token].secret.secretName', 'volume'],
      ['volumes[all].projected.sources[].secret.name', 'projected volume'],
      ['volumes[store].csi.nodePublishSecretRef.name', 'CSI volume'],
      ['volumes[data].cephfs.secretRef.name', 'cephfs volume'],
      ['imagePullSecrets[].name', 'imagePullSecrets'],
      ['spec.tls[0].secretName', 'spec.tls[0].secretName'],
    ];
    for (const [field, how] of cases) assert.equal(refersHow(field), how, field);
  });
});

describe('rotor plan: canary replicas', () => {
  it('green first, blue gives up what green proved at the step before; at 100% blue at full size', () => {
    assert.deepEqual(canaryReplicas(4, [10, 25, 50, 100]), [
      { weightPercent: 10, blue: 4, green: 1 },
      { weightPercent: 25, blue: 3, green: 1 },
      { weightPercent: 50, blue: 3, green: 2 },
      { weightPercent: 100, blue: 4, green: 2 },
    ]);
    assert.deepEqual(canaryReplicas(1, [50, 100]), [
      { weightPercent: 50, blue: 1, green: 1 },
      { weightPercent: 100, blue: 1, green: 1 },
    ]);
  });

  it('never runs fewer than the original replicas at any step (randomized)', () => {
    const steps = fc.uniqueArray(fc.integer({ min: 1, max: 99 }), { minLength: 1, maxLength: 5 }).map((s) => [...s.sort((a, b) => a - b), 100]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), steps, (replicas, st) => {
        for (const step of canaryReplicas(replicas, st)) {
          assert.ok(step.blue + step.green >= replicas, JSON.stringify(step));
          assert.ok(step.green >= 1 && step.green <= replicas);
        }
      }),
    );
  });
});

/** A random workload: containers with env, envFrom, volumes of each shape and imagePullSecrets, naming PREV or another Secret. */
const workloadArb = () => {
  const name = fc.constantFrom(PREV, 'other-secret', `${PREV}-old`);
  const env = fc.array(
    fc.oneof(
      fc.record({ name: fc.constantFrom('TOKEN', 'A', 'weird[name]%', "it's"), value: fc.constant('x') }),
      fc.record({ name: fc.constantFrom('TOKEN', 'B', 'C/D'), valueFrom: fc.record({ secretKeyRef: fc.record({ name, key: fc.constant('k') }) }) }),
    ),
    { maxLength: 4 },
  );
  const container = (n: string) =>
    fc.record({ name: fc.constant(n), image: fc.constant('x'), env, envFrom: fc.array(fc.record({ secretRef: fc.record({ name }) }), { maxLength: 2 }) });
  const volume = fc.oneof(
    fc.record({ name: fc.constantFrom('a', 'b'), secret: fc.record({ secretName: name }) }),
    fc.record({ name: fc.constantFrom('c', 'd'), projected: fc.record({ sources: fc.array(fc.record({ secret: fc.record({ name }) }), { maxLength: 3 }) }) }),
    fc.record({ name: fc.constant('e'), csi: fc.record({ driver: fc.constant('x'), nodePublishSecretRef: fc.record({ name }) }) }),
  );
  const spec = fc.record({
    containers: fc.uniqueArray(fc.constantFrom('app', 'side', 'x~y'), { minLength: 1, maxLength: 3 }).chain((names) => fc.tuple(...names.map(container))),
    initContainers: fc.array(container('init'), { maxLength: 1 }),
    volumes: fc.array(volume, { maxLength: 3 }),
    imagePullSecrets: fc.array(fc.record({ name }), { maxLength: 2 }),
  });
  return fc
    .record({
      kind: fc.constantFrom<WorkloadKind>('Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'),
      spec,
    })
    .map(({ kind, spec: podSpec }) => {
      const template = { metadata: { labels: { app: 'x' } }, spec: podSpec };
      const obj: Json = {
        metadata: { name: 'w', namespace: 'ns', resourceVersion: '1' },
        spec: kind === 'CronJob' ? { jobTemplate: { spec: { template } } } : { template },
      };
      return { kind, obj: JSON.parse(JSON.stringify(obj)) as Obj };
    });
};

describe('rotor plan: the rollback by hand', () => {
  it('undoes the switch of a Deployment, pinned by the container and env var names', () => {
    const obj = authDeployment('auth-api', PREV) as Obj;
    const patch = rollbackPatch('Deployment', obj, PREV);
    assert.deepEqual(patch, [
      { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'app' },
      { op: 'test', path: '/spec/template/spec/containers/0/env/0/name', value: 'TOKEN' },
      { op: 'replace', path: '/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/name', value: PREV },
    ]);
    const switched = applyJsonPatch(obj as Json, switchPatch('Deployment', obj, PREV, NEW).ops as Json[]);
    assert.deepEqual(applyJsonPatch(switched, patch as Json[]), obj);
    // An env var someone inserted before TOKEN since: the patch fails rather than change another field.
    const moved = structuredClone(switched) as Obj;
    moved.spec.template.spec.containers[0].env.unshift({ name: 'NEW_VAR', value: 'x' });
    assert.throws(() => applyJsonPatch(moved as Json, patch as Json[]), /test/);
  });

  it('switch then rollback gives back the very object, and the rollback alone changes nothing (randomized)', () => {
    fc.assert(
      fc.property(workloadArb(), ({ kind, obj }) => {
        const switched = applyJsonPatch(obj as Json, switchPatch(kind, obj, PREV, NEW).ops as Json[]);
        const patch = rollbackPatch(kind, obj, PREV) as Json[];
        assert.deepEqual(applyJsonPatch(switched, patch), obj);
        assert.deepEqual(applyJsonPatch(obj as Json, patch), obj);
      }),
      { numRuns: 300 },
    );
  });

  it('prints the commands for a canary Deployment, and the shell names its copy and record as rotor does', () => {
    const obj = authDeployment('auth-api', PREV) as Obj;
    const commands = rollbackCommands({ kind: 'Deployment', namespace: 'production', name: 'auth-api', previous: PREV, canaryReplicas: 4 }, obj);
    assert.equal(commands[0], `kubectl -n production patch deployment auth-api --type=json -p '${JSON.stringify(rollbackPatch('Deployment', obj, PREV))}'`);
    assert.deepEqual(commands.slice(1), [
      'kubectl -n production scale deployment auth-api --replicas=4',
      'kubectl -n production delete deployment "auth-api-canary-${TAG%????}" --ignore-not-found',
      'kubectl -n production annotate deployment auth-api "rotor.dev/switch-$TAG-"',
    ]);
    const preamble = rollbackPreamble('app-secrets', 'staging').map((l) => (l.startsWith('NEW=') ? `NEW=${NEW}` : l));
    const shell = (line: string) => execFileSync('sh', ['-c', `${preamble.join('\n')}\nprintf %s ${line}`], { encoding: 'utf8' });
    assert.equal(shell('"auth-api-canary-${TAG%????}"'), greenName('auth-api', NEW));
    assert.equal(shell('"rotor.dev/switch-$TAG"'), ownershipKey(NEW));
  });

  it('quotes any text as one shell word (randomized)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        assert.equal(execFileSync('sh', ['-c', `printf %s ${shellQuote(text)}`], { encoding: 'utf8' }), text);
      }),
      { numRuns: 50 },
    );
  });
});

describe('rotor plan: the report', () => {
  it('prints each stage, cleanup, the rollback, the refusals and the verdict', () => {
    const report: PlanReport = {
      secret: 'app-secrets',
      context: 'ctx',
      cluster: 'https://k',
      checkedAt: '2026-01-01T00:00:00.000Z',
      verdict: 'refused',
      exitCode: 2,
      refusals: ['no workload in staging uses x'],
      unknowns: [],
      notes: [],
      stages: [
        {
          name: 'staging',
          namespace: 'staging',
          strategy: 'rolling',
          versionInUse: PREV,
          holders: [
            { kind: 'Deployment', namespace: 'staging', name: 'api', refersBy: ['env'], fields: ['containers[app].env[TOKEN].valueFrom.secretKeyRef.name'] },
          ],
          switches: [{ kind: 'Deployment', name: 'api', fields: ['containers[app].env[TOKEN].valueFrom.secretKeyRef.name'] }],
          refused: [],
          batches: [['Deployment/api']],
          preflight: [],
        },
      ],
      cleanup: { at: '2026-01-15', deletes: [{ version: PREV, namespaces: ['staging'], store: null, waitsFor: ['CronJob/report in staging'] }] },
      rollback: { note: 'in order', commands: ['kubectl -n staging patch deployment api'] },
    };
    const text = formatPlanReport(report);
    assert.match(text, /^stage staging \(namespace staging, rolling\): uses app-secrets-20250101000000$/m);
    assert.match(text, /^ {4}Deployment\/api: env \(containers\[app\]\.env\[TOKEN\]\.valueFrom\.secretKeyRef\.name\)$/m);
    assert.match(text, /^ {4}1: Deployment\/api$/m);
    assert.match(text, /delete app-secrets-20250101000000 in staging, once nothing refers to it; waits for: CronJob\/report in staging/);
    assert.match(text, /^ {4}kubectl -n staging patch deployment api$/m);
    assert.match(text, /PLANNING would refuse this plan:\n {4}1\. no workload in staging uses x\nverdict: refused \(exit 2\)$/);
  });
});

describe('rotor plan: the pre-flight checks', () => {
  it('says how each check runs and whether its endpoint answers now, never filling in a value', async () => {
    let sawAuthorization: string | undefined = 'not called';
    const server = createServer((req, res) => {
      sawAuthorization = req.headers.authorization;
      res.writeHead(401).end('{"error":"invalid_token"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/verify`;
    try {
      const plan = parsePlan({
        secret: 'auth-api-secrets',
        value: { generate: { keys: ['api_token'] } },
        stages: [
          {
            name: 'staging',
            namespace: 'staging',
            preflight: [
              { name: 'verify', http: { url, method: 'POST', headers: { Authorization: 'Bearer {{secret.api_token}}' }, expect: { status: [200, 204] } } },
              { name: 'gone', http: { url: 'http://127.0.0.1:59998/verify', retries: 0 } },
              { job: { image: 'registry.example.test/check:1', args: ['--all'], secretAs: { volume: '/etc/auth' }, timeout: '2m' } },
            ],
          },
        ],
      });
      const lines = await preflightLines(plan.stages[0]);
      assert.deepEqual(lines, [
        `verify: POST ${url} with {{secret.api_token}}; passes on status 200 or 204; 10s an attempt, 3 attempt(s)`,
        '  endpoint answers now: HTTP 401 to a call without the credential',
        'gone: GET http://127.0.0.1:59998/verify with no key of the version; passes on status 200; 10s an attempt, 1 attempt(s)',
        '  endpoint does not answer now (ECONNREFUSED): the check would fail',
        'job-3: Job registry.example.test/check:1 (--all), reading the new version by a volume at /etc/auth, deadline 2m',
      ]);
      assert.equal(sawAuthorization, undefined, 'the probe carries no credential');
    } finally {
      server.close();
    }
  });
});
