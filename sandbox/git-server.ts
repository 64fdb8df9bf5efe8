// A real smart-HTTP Git server on 127.0.0.1: Git's own `git http-backend` (the CGI program Git ships,
// which GitHub-style hosts speak the same protocol as), run per request behind a small HTTP server.
// Bare repositories live in a temporary directory; every request needs the token (HTTP Basic, any
// user name, the token as password, as GitHub and GitLab take one), and a push is refused without it.
// `beforePush` runs before each push is served: a test lands another commit there, so rotor's push
// meets a race exactly as it would on a busy repository.
import { spawn, execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

export interface GitServer {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** The password every request must carry (HTTP Basic, any user name). */
  token: string;
  /** The directory of the bare repositories, `<name>.git`. */
  root: string;
  /** A new bare repository `<name>.git` whose `branch` holds `files` in one commit; its clone URL. */
  createRepository(name: string, files: Record<string, string>, branch?: string): Promise<string>;
  /** Sets `branch` of `<name>.git` back to its first commit (a test starting again from the same repository). */
  resetRepository(name: string, branch?: string): Promise<void>;
  /** Runs before a push to `repo` is served (once per push). */
  beforePush: ((repo: string) => Promise<void>) | null;
  stop(): Promise<void>;
}

const run = promisify(execFile);
/** Git with no user or system configuration, so this machine's settings change nothing. */
const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' };
const AUTHOR = {
  GIT_AUTHOR_NAME: 'platform team',
  GIT_AUTHOR_EMAIL: 'platform@example.test',
  GIT_COMMITTER_NAME: 'platform team',
  GIT_COMMITTER_EMAIL: 'platform@example.test',
};

async function git(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return (await run('git', args, { cwd, env: { ...GIT_ENV, ...AUTHOR, ...env }, maxBuffer: 64 * 1024 * 1024 })).stdout;
}

function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1) === token;
}

/** One request through `git http-backend`: CGI environment in, CGI headers and body out. */
function serveCgi(req: IncomingMessage, res: ServerResponse, root: string): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const child = spawn('git', ['http-backend'], {
    env: {
      ...GIT_ENV,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      // A user name turns receive-pack (push) on; the request was authorized above.
      REMOTE_USER: 'rotor-test',
      REMOTE_ADDR: '127.0.0.1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    },
  });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('utf8').split('\r\n')) {
      const cut = line.indexOf(':');
      const name = line.slice(0, cut).trim();
      const value = line.slice(cut + 1).trim();
      if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.stdout.on('end', () => res.end());
  child.on('error', () => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
}

export async function startGitServer(options: { log?: (line: string) => void } = {}): Promise<GitServer> {
  const root = mkdtempSync(join(tmpdir(), 'rotor-git-'));
  const token = randomBytes(16).toString('hex');
  const state: { beforePush: GitServer['beforePush'] } = { beforePush: null };
  const server = createServer((req, res) => {
    if (!authorized(req, token)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="rotor test git"' });
      return void res.end('a token is needed: HTTP Basic, any user name, the token as password\n');
    }
    const push = req.method === 'POST' && (req.url ?? '').endsWith('/git-receive-pack');
    const repo = /^\/([^/]+)\.git\//.exec(req.url ?? '')?.[1] ?? '';
    // Git sends the pack as the body: hold it until the hook ran, so the race happens before the update.
    if (push && state.beforePush) {
      req.pause();
      state
        .beforePush(repo)
        .then(() => serveCgi(req, res, root))
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(`beforePush failed: ${err.message}\n`);
        });
      return;
    }
    serveCgi(req, res, root);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  options.log?.(`git server (git http-backend) on ${url}, repositories in ${root}`);
  return {
    url,
    token,
    root,
    get beforePush() {
      return state.beforePush;
    },
    set beforePush(hook) {
      state.beforePush = hook;
    },
    async createRepository(name, files, branch = 'main') {
      const bare = join(root, `${name}.git`);
      await git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, bare], root);
      const work = mkdtempSync(join(tmpdir(), 'rotor-git-seed-'));
      try {
        await git(['init', '--quiet', `--initial-branch=${branch}`], work);
        for (const [path, text] of Object.entries(files)) {
          mkdirSync(dirname(join(work, path)), { recursive: true });
          writeFileSync(join(work, path), text);
        }
        await git(['add', '--all'], work);
        await git(['commit', '--quiet', '-m', "the platform team's manifests"], work);
        await git(['push', '--quiet', bare, `HEAD:refs/heads/${branch}`], work);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
      return `${url}/${name}.git`;
    },
    async resetRepository(name, branch = 'main') {
      const bare = join(root, `${name}.git`);
      const first = (await git(['rev-list', '--max-parents=0', branch], bare)).trim().split('\n')[0];
      await git(['update-ref', `refs/heads/${branch}`, first], bare);
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * A commit by someone else on `branch` of the bare repository `<root>/<repo>.git`: `change` edits a
 * checkout (files by path). Used by tests for a racing push, and to read the repository's log.
 */
export async function commitElsewhere(root: string, repo: string, branch: string, message: string, change: (dir: string) => void): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'rotor-git-other-'));
  try {
    await git(['clone', '--quiet', '--branch', branch, join(root, `${repo}.git`), work], root);
    change(work);
    await git(['commit', '--quiet', '--all', '-m', message], work);
    await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], work);
    return (await git(['rev-parse', 'HEAD'], work)).trim();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * A person merging `from` into `into` of the bare repository `<root>/<repo>.git`, as a host's merge
 * button does: a merge commit, or one squashed commit (`squash`). Returns the new head of `into`.
 */
export async function mergeElsewhere(root: string, repo: string, from: string, into: string, how: 'merge' | 'squash' = 'merge'): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'rotor-git-merge-'));
  try {
    await git(['clone', '--quiet', '--branch', into, join(root, `${repo}.git`), work], root);
    if (how === 'squash') {
      await git(['merge', '--quiet', '--squash', `origin/${from}`], work);
      await git(['commit', '--quiet', '-m', `squashed ${from}`], work);
    } else await git(['merge', '--quiet', '--no-ff', '-m', `Merge branch '${from}'`, `origin/${from}`], work);
    await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${into}`], work);
    return (await git(['rev-parse', 'HEAD'], work)).trim();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `git log` of a branch of a bare repository: one line per commit, newest first (`<sha> <subject>`). */
export async function logOf(root: string, repo: string, branch: string): Promise<string[]> {
  return (await git(['log', '--format=%H %s', branch], join(root, `${repo}.git`))).trim().split('\n');
}
