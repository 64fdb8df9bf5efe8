// Git mode in workflow tests: a repository of production's manifest on the real Git server, and a
// stand-in for Flux that applies what the branch's head says to the memory cluster, as the controller
// would after rotor's commit or revert.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { recordText } from './leak';
import { parse } from 'yaml';
import type { GitSwitchInput } from '../../contract/activities';
import { after, before } from 'node:test';
import { startGitServer, type GitServer } from '../../sandbox/git-server';
import { ENV_FROM, type Doubles } from './doubles';

/** Flux's labels on what a Kustomization flux-system/apps applies. */
export const FLUX_LABELS = { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' };

/** Production's auth API as the platform team keeps it in Git, naming `secret`. */
export const productionManifest = (secret: string) =>
  `# production's auth API, applied by Flux (Kustomization flux-system/apps)\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: auth-api\n  namespace: production\nspec:\n  replicas: 4\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example/auth:1.4\n          envFrom:\n            - secretRef:\n                name: ${secret} # rotated by rotor\n`;

/** A file of a branch of a bare repository on the server. */
export function fileAt(server: GitServer, repo: string, path: string, branch = 'main'): string {
  return execFileSync('git', ['show', `${branch}:${path}`], { cwd: join(server.root, `${repo}.git`), encoding: 'utf8' });
}

/** The branches of a bare repository on the server, sorted. */
export function branchesOf(server: GitServer, repo: string): string[] {
  const out = execFileSync('git', ['for-each-ref', '--format=%(refname:short)', 'refs/heads/'], { cwd: join(server.root, `${repo}.git`), encoding: 'utf8' });
  return out.split('\n').filter(Boolean).sort();
}

/** Flux, standing in: each switched workload gets the Secret name its manifest at the branch's head gives. */
export function fluxStandIn(server: GitServer) {
  return (d: Doubles, input: GitSwitchInput) => {
    const repo = basename(input.target.repo).replace(/\.git$/, '');
    for (const w of input.workloads) {
      const text = fileAt(server, repo, `${input.target.path}/auth.yaml`, input.target.branch);
      const secret = parse(text).spec.template.spec.containers[0].envFrom[0].secretRef.name as string;
      d.workload(w.namespace, w.name)!.refs[ENV_FROM] = secret;
    }
  };
}

/**
 * Leak evidence: every commit of every repository on the server, with its patch and message, so the
 * leak check finds a secret value rotor would have put in Git.
 */
export function recordRepositories(server: GitServer): void {
  for (const repo of readdirSync(server.root).filter((d) => d.endsWith('.git'))) {
    const log = execFileSync('git', ['log', '--all', '-p', '--format=commit %H%n%B'], {
      cwd: join(server.root, repo),
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    recordText(`git repository ${repo}`, log);
  }
}

/** A real Git server for the test file: started before its tests; its repositories recorded for the leak check, then stopped, after them. */
export function useGitServer(): () => GitServer {
  let server: GitServer | undefined;
  before(async () => {
    server = await startGitServer();
  });
  after(async () => {
    if (server) recordRepositories(server);
    await server?.stop();
  });
  return () => server!;
}
