// Finding and reading the kubeconfig as kubectl does (--kubeconfig, KUBECONFIG, ~/.kube/config, then
// the pod's ServiceAccount), with --context, and every way that fails said as a cause and a next step:
// the client library alone falls back to http://localhost:8080, throws a bare ENOENT or a YAML error
// that names no file.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseDocument } from 'yaml';

export interface KubeConfigOptions {
  /** --kubeconfig: this file, whatever KUBECONFIG says. */
  kubeconfig?: string;
  /** --context: this context instead of the file's current-context. */
  context?: string;
}

export interface LoadedKubeConfig {
  kc: k8s.KubeConfig;
  /** Where it came from, as a user would name it: `/path (from KUBECONFIG)`, `the in-cluster ServiceAccount`. */
  source: string;
  context: string;
  /** The context's namespace, or `default`: what `-n` means when it is not given. */
  namespace: string;
}

/** A kubeconfig that cannot be used; the message names the file, the cause and what to do. */
class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

interface Candidate {
  file: string;
  /** How the user chose it: `--kubeconfig`, `KUBECONFIG`, or the default path. */
  via: string;
}

/** The files to read, in kubectl's order; empty: none is configured and ~/.kube/config does not exist. */
function candidates(options: KubeConfigOptions, env: NodeJS.ProcessEnv): Candidate[] {
  if (options.kubeconfig) return [{ file: options.kubeconfig, via: '--kubeconfig' }];
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (listed.length) return listed.map((file) => ({ file, via: 'KUBECONFIG' }));
  const home = env.HOME || homedir();
  const file = join(home, '.kube', 'config');
  return existsSync(file) ? [{ file, via: 'the default path' }] : [];
}

function readKubeconfigText({ file, via }: Candidate): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const fix = via === 'KUBECONFIG' ? 'set KUBECONFIG to your kubeconfig file, or unset it to use ~/.kube/config' : 'pass the path of a kubeconfig file';
    if (code === 'ENOENT') throw new KubeConfigError(`the kubeconfig ${file} (from ${via}) does not exist; ${fix}`);
    if (code === 'EISDIR') throw new KubeConfigError(`the kubeconfig ${file} (from ${via}) is a directory, not a file; ${fix}`);
    throw new KubeConfigError(`cannot read the kubeconfig ${file} (from ${via}): ${code ?? (err as Error).message}; check its permissions, or ${fix}`);
  }
}

/** One file, read and checked before the client library sees it (its YAML errors name no file). */
function readKubeconfig(candidate: Candidate): k8s.KubeConfig {
  const { file, via } = candidate;
  const where = `the kubeconfig ${file} (from ${via})`;
  const doc = parseDocument(readKubeconfigText(candidate));
  if (doc.errors.length) {
    // The first error's first line says where ("... at line 3, column 1:"); what follows it is a code frame.
    const first = doc.errors[0].message.split('\n')[0].replace(/:$/, '');
    throw new KubeConfigError(`${where} is not valid YAML: ${first}; fix it, or point ${via} at another kubeconfig`);
  }
  const content = doc.toJS() as unknown;
  if (!content || typeof content !== 'object' || Array.isArray(content) || !('clusters' in content)) {
    throw new KubeConfigError(`${where} is not a kubeconfig: it has no clusters; \`kubectl config view --kubeconfig ${file}\` shows what kubectl makes of it`);
  }
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new KubeConfigError(`${where} cannot be used: ${(err as Error).message}`);
  }
  return kc;
}

/**
 * Every listed file merged as kubectl merges KUBECONFIG: the first to set a current-context or to
 * define a name wins; files that do not exist are skipped while another one does.
 */
function readAll(files: Candidate[]): { kc: k8s.KubeConfig; source: string } {
  const present = files.filter((f) => existsSync(f.file));
  const named = present.length ? present : files;
  const [kc, ...rest] = named.map(readKubeconfig);
  for (const other of rest) {
    if (!kc.getCurrentContext() && other.getCurrentContext()) kc.setCurrentContext(other.getCurrentContext());
    for (const c of other.getClusters()) if (!kc.getCluster(c.name)) kc.addCluster(c);
    for (const u of other.getUsers()) if (!kc.getUser(u.name)) kc.addUser(u);
    for (const x of other.getContexts()) if (!kc.getContextObject(x.name)) kc.addContext(x);
  }
  return { kc, source: `${named.map((f) => f.file).join(delimiter)} (from ${named[0].via})` };
}

/** The kubeconfig kubectl would use, with `options.context` current; a KubeConfigError says why it cannot be used. */
export function loadKubeConfig(options: KubeConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): LoadedKubeConfig {
  const files = candidates(options, env);
  let kc: k8s.KubeConfig;
  let source: string;
  if (files.length) {
    ({ kc, source } = readAll(files));
  } else if (existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc = new k8s.KubeConfig();
    kc.loadFromCluster();
    source = 'the in-cluster ServiceAccount';
  } else {
    throw new KubeConfigError(
      `no kubeconfig: KUBECONFIG is not set, ${join(env.HOME || homedir(), '.kube', 'config')} does not exist, and this is not a pod with a ServiceAccount; ` +
        'set KUBECONFIG=<file> or pass --kubeconfig <file> (the file kubectl uses)',
    );
  }
  const contexts = kc.getContexts().map((c) => c.name);
  const known = contexts.length ? `its contexts: ${contexts.join(', ')}` : 'it has no contexts';
  const context = options.context ?? kc.getCurrentContext();
  if (!context) throw new KubeConfigError(`${source} sets no current-context; pass --context <name> (${known})`);
  const chosen = kc.getContextObject(context);
  if (!chosen) throw new KubeConfigError(`context ${context} is not in ${source}; ${known} (\`kubectl config get-contexts\`)`);
  kc.setCurrentContext(context);
  if (!kc.getCurrentCluster()) throw new KubeConfigError(`context ${context} in ${source} names cluster ${chosen.cluster}, which is not defined there`);
  return { kc, source, context, namespace: chosen.namespace || 'default' };
}
