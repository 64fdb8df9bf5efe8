// External Secrets Operator in the sandbox: its REAL CustomResourceDefinitions (deploy/crds/bundle.yaml
// of the operator's Go module, pinned in tools.json and fetched by `node scripts/bootstrap.mjs
// --external-secrets`), applied to the sandbox's real kube-apiserver, which then validates every
// ExternalSecret against the operator's own schema. The operator itself: eso-operator.ts.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane';
import { cacheDir, repoRoot } from './tools';

const run = promisify(execFile);

export const ESO_GROUP = 'external-secrets.io';
export const ESO_VERSION = 'v1';
const EXTERNAL_SECRETS_CRD = 'externalsecrets.external-secrets.io';

interface EsoPin {
  key: string;
  module: string;
  version: string;
  file: string;
}

function esoPin(): EsoPin {
  const pins = JSON.parse(readFileSync(join(repoRoot, 'tools.json'), 'utf8')) as { 'external-secrets': EsoPin };
  return pins['external-secrets'];
}

/** The pinned bundle.yaml in the tools cache; fetched from the Go module proxy (scripts/eso-tools.mjs) when absent. */
async function externalSecretsBundle(log?: (line: string) => void): Promise<string> {
  const pin = esoPin();
  const path = join(cacheDir, pin.key, 'bundle.yaml');
  if (existsSync(join(cacheDir, pin.key, '.installed')) && existsSync(path)) return path;
  log?.(`[eso] ${pin.key} not in ${cacheDir}: fetching ${pin.file} of ${pin.module} ${pin.version} ...`);
  // An ES module: a real dynamic import (TypeScript keeps `import()` as it is under nodenext).
  const tools = (await import(pathToFileURL(join(repoRoot, 'scripts', 'eso-tools.mjs')).href)) as {
    installExternalSecretsCrds(cache: string, spec: EsoPin): Promise<string>;
  };
  return tools.installExternalSecretsCrds(cacheDir, pin);
}

/**
 * `kubectl apply --server-side` of the operator's CRD bundle (client-side apply would need the
 * 1.4 MB bundle in a last-applied annotation, over the 256 KiB limit), then waits until the
 * ExternalSecret CRD is Established with `v1` served and the apiserver answers for it.
 */
export async function installExternalSecretsCrds(
  plane: ControlPlane,
  options: { log?: (line: string) => void; timeoutMs?: number } = {},
): Promise<{ bundle: string; servedVersions: string[]; storageVersion: string; installedInMs: number }> {
  const started = Date.now();
  const bundle = await externalSecretsBundle(options.log);
  await run(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, 'apply', '--server-side', '--field-manager', 'rotor-sandbox', '-f', bundle], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last = '';
  for (;;) {
    const crd = await ext.readCustomResourceDefinition({ name: EXTERNAL_SECRETS_CRD }).catch((err) => {
      last = String(err?.message ?? err);
      return null;
    });
    const established = crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    const served = (crd?.spec.versions ?? []).filter((v) => v.served).map((v) => v.name);
    if (crd && established && !served.includes(ESO_VERSION)) {
      throw new Error(`${EXTERNAL_SECRETS_CRD} serves ${served.join(', ')}, not ${ESO_VERSION}`);
    }
    // Established is not quite "the apiserver routes it": list once through the served version.
    const listed =
      established &&
      (await custom.listClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'externalsecrets' }).then(
        () => true,
        (err) => {
          last = String(err?.message ?? err);
          return false;
        },
      ));
    if (crd && listed) {
      const storageVersion = crd.spec.versions.find((v) => v.storage)?.name ?? '';
      const installedInMs = Date.now() - started;
      options.log?.(`[eso] CRDs installed in ${installedInMs} ms: ${EXTERNAL_SECRETS_CRD} serves ${served.join(', ')} (storage ${storageVersion})`);
      return { bundle, servedVersions: served, storageVersion, installedInMs };
    }
    if (Date.now() > deadline) throw new Error(`${EXTERNAL_SECRETS_CRD} not Established and served after apply (last: ${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
