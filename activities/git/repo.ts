// A GitOps repository as rotor changes it: a clone kept by the worker, synced to the branch's head
// before each change, one commit per change pushed straight to the branch (or, with `pushTo`, made on
// the branch's head and pushed to a branch of rotor's own for a person to merge), and a revert of
// rotor's own commit for a rollback. Git's own CLI does the work (every transport, every credential helper).
//
// - Credentials come from the worker (worker/config.ts): an HTTPS token sent as an Authorization
//   header through Git's environment (GIT_CONFIG_*), never a command line, URL or file; or an SSH key
//   file. No user or system Git configuration is read.
// - Idempotent: each commit carries a trailer (`Rotor-Change: <key>`); a change whose trailer is already
//   on the branch (or on the branch it was pushed to) is not made again, so a retried activity finds
//   its own commit.
// - A push that loses a race (another commit landed since the fetch) is made again on the new head,
//   from the files as they now are, up to `attempts` times; if the other commit changed what rotor
//   edits, the change is refused naming that commit.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { reveal, type Credential } from '../credentials';
import { RotorError } from '../errors';
import type { EditResult, RepoFile } from './manifests';

export interface GitAccess {
  /** HTTPS: the password or token (HTTP Basic), e.g. a deploy token with write access. */
  token?: Credential;
  /** HTTPS: the user name sent with the token (default x-access-token, as GitHub and GitLab take). */
  username?: string;
  /** SSH: a private key file. */
  sshKeyFile?: string;
  /** SSH: the known_hosts file the host's key is checked against (never accepted on first use). */
  knownHostsFile?: string;
  /** Where the worker keeps its clones. */
  cacheDir: string;
}

export interface Author {
  name: string;
  email: string;
}

/** A commit rotor made, or found already made by an earlier attempt. */
export interface Committed {
  commit: string;
  already: boolean;
  attempts: number;
}

const run = promisify(execFile);
/** The files a repository's manifests are read from. */
const READ = /\.(ya?ml)$|(^|\/)Kustomization$/;
const MAX_FILE = 1024 * 1024;

export class GitRepository {
  readonly dir: string;

  constructor(
    readonly url: string,
    private readonly access: GitAccess,
  ) {
    this.dir = join(access.cacheDir, createHash('sha256').update(url).digest('hex').slice(0, 16));
  }

  /** Git's environment: no user or system configuration, no prompt, the credential in headers. */
  private env(author?: Author): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: this.access.cacheDir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
      ...(author ? { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email } : {}),
    };
    if (this.access.token !== undefined) {
      const basic = Buffer.from(`${this.access.username ?? 'x-access-token'}:${reveal(this.access.token)}`).toString('base64');
      Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` });
    }
    if (this.access.sshKeyFile) {
      const hosts = this.access.knownHostsFile ? ` -o UserKnownHostsFile=${JSON.stringify(this.access.knownHostsFile)} -o StrictHostKeyChecking=yes` : '';
      env.GIT_SSH_COMMAND = `ssh -i ${JSON.stringify(this.access.sshKeyFile)} -o IdentitiesOnly=yes -o BatchMode=yes${hosts}`;
    }
    return env;
  }

  private async git(args: string[], author?: Author): Promise<string> {
    try {
      return (await run('git', args, { cwd: this.dir, env: this.env(author), maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (err) {
      throw this.failed(args, err);
    }
  }

  /** Git's answer to a yes-or-no question: exit 0 is yes, 1 no, anything else an error. */
  private async yes(args: string[]): Promise<boolean> {
    try {
      await run('git', args, { cwd: this.dir, env: this.env() });
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === 1) return false;
      throw this.failed(args, err);
    }
  }

  private failed(args: string[], err: unknown): RotorError {
    const e = err as { stderr?: string };
    // Git's own words, without any header it was given (it prints none; the URL has no credential).
    const said = (e.stderr ?? String(err)).trim().split('\n').slice(-3).join('; ');
    const type = /Authentication failed|could not read Username|403|401|Permission denied/i.test(said) ? 'Forbidden' : 'Unavailable';
    return new RotorError(type, `git ${args[0]} ${this.url}: ${said}`, this.url);
  }

  /** The clone, on `branch` exactly as the remote has it now; its head. */
  async sync(branch: string): Promise<string> {
    if (!existsSync(join(this.dir, '.git'))) {
      mkdirSync(this.dir, { recursive: true });
      await this.git(['init', '--quiet']);
      await this.git(['remote', 'add', 'origin', this.url]);
    }
    await this.git(['fetch', '--quiet', '--prune', 'origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`]);
    await this.git(['checkout', '--quiet', '--force', '-B', branch, `origin/${branch}`]);
    await this.git(['clean', '--quiet', '-fdx']);
    return (await this.git(['rev-parse', 'HEAD'])).trim();
  }

  /** The manifests of the checkout (YAML files and Kustomizations), by path from the root. */
  read(): RepoFile[] {
    const out: RepoFile[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === '.git') continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile() && READ.test(entry.name) && statSync(path).size <= MAX_FILE)
          out.push({ path: relative(this.dir, path), text: readFileSync(path, 'utf8') });
      }
    };
    walk(this.dir);
    return out.sort((a, b) => a.path.localeCompare(b.path));
  }

  /**
   * The remote's `branch` fetched (as origin/<branch>); its head, or null when the remote has no such
   * branch (then no copy of an earlier fetch is left to be mistaken for it).
   */
  async fetchBranch(branch: string): Promise<string | null> {
    if (!(await this.git(['ls-remote', '--heads', 'origin', `refs/heads/${branch}`])).trim()) {
      await this.git(['update-ref', '-d', `refs/remotes/origin/${branch}`]);
      return null;
    }
    await this.git(['fetch', '--quiet', 'origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`]);
    return (await this.git(['rev-parse', `refs/remotes/origin/${branch}`])).trim();
  }

  /** Deletes the remote's `branch`; false when it was already gone. */
  async deleteBranch(branch: string): Promise<boolean> {
    if (!(await this.fetchBranch(branch))) return false;
    await this.git(['push', '--quiet', 'origin', `:refs/heads/${branch}`]);
    await this.git(['update-ref', '-d', `refs/remotes/origin/${branch}`]);
    return true;
  }

  /** Whether `commit` is on the fetched `branch` (its head or an ancestor); one this clone never fetched is on none. */
  async onBranch(commit: string, branch: string): Promise<boolean> {
    if (!(await this.yes(['rev-parse', '--verify', '--quiet', `${commit}^{commit}`]))) return false;
    return this.yes(['merge-base', '--is-ancestor', commit, `origin/${branch}`]);
  }

  /** The commit on the fetched branch whose message carries `Rotor-Change: <key>`, if any. */
  async findChange(branch: string, key: string): Promise<string | null> {
    const out = await this.git(['log', `origin/${branch}`, '--format=%H', '--fixed-strings', `--grep=Rotor-Change: ${key}`, '-n', '1']);
    return out.trim() || null;
  }

  /** The files of `commit` (from the last fetch), or null when the clone does not have it. */
  async pathsAt(commit: string): Promise<string[] | null> {
    try {
      await this.git(['cat-file', '-e', `${commit}^{commit}`]);
    } catch {
      return null;
    }
    return (await this.git(['ls-tree', '-r', '--name-only', commit])).split('\n').filter(Boolean);
  }

  /** The subject of a commit, for messages. */
  async subject(commit: string): Promise<string> {
    return (await this.git(['log', '-1', '--format=%h %s', commit])).trim();
  }

  private async pushHead(branch: string): Promise<'pushed' | 'rejected'> {
    try {
      await this.git(['push', '--quiet', '--porcelain', 'origin', `HEAD:refs/heads/${branch}`]);
      return 'pushed';
    } catch (err) {
      // Lost a race: refused as not a fast-forward, or the ref moved between the server's advertisement and its update.
      if (err instanceof RotorError && /rejected|non-fast-forward|fetch first|stale info|cannot lock ref/i.test(err.message)) return 'rejected';
      throw err;
    }
  }

  /**
   * The commit with the trailer `Rotor-Change: <key>` on `branch` (synced), or on `pushTo` (a branch of
   * rotor's, fetched here); a refusal when `pushTo` is there without it.
   */
  async found(branch: string, pushTo: string, key: string): Promise<string | { refusal: string } | null> {
    const done = await this.findChange(branch, key);
    if (done || pushTo === branch || !(await this.fetchBranch(pushTo))) return done;
    return (
      (await this.findChange(pushTo, key)) ?? {
        refusal: `the branch ${pushTo} is there without rotor's commit for this change (Rotor-Change: ${key}): rotor pushes only to a branch it made; delete it, and the next attempt makes it again`,
      }
    );
  }

  /**
   * One change made on the branch's head and pushed to `pushTo` (the branch itself, or a branch of
   * rotor's), made again on the new head while its push loses a race: sync, find the change already
   * made (its trailer), else `stage` it in the checkout (or refuse), commit with the trailer, push.
   */
  private async change(
    to: { branch: string; pushTo?: string },
    key: string,
    author: Author,
    attempts: number,
    stage: (head: string, firstHead: string) => Promise<{ message: string } | { refusal: string } | { nothing: true }>,
  ): Promise<Committed | { refusal: string }> {
    const { branch } = to;
    const pushTo = to.pushTo ?? branch;
    let firstHead: string | null = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const head = await this.sync(branch);
      firstHead ??= head;
      const done = await this.found(branch, pushTo, key);
      if (typeof done === 'string') return { commit: done, already: true, attempts: attempt };
      if (done) return done;
      const staged = await stage(head, firstHead);
      if ('refusal' in staged) return staged;
      if ('nothing' in staged) return { commit: '', already: true, attempts: attempt };
      await this.git(['commit', '--quiet', '--no-verify', '--allow-empty', '-m', `${staged.message}\n\nRotor-Change: ${key}`], author);
      if ((await this.pushHead(pushTo)) === 'pushed') return { commit: (await this.git(['rev-parse', 'HEAD'])).trim(), already: false, attempts: attempt };
    }
    throw new RotorError(
      'Unavailable',
      `git push ${this.url} ${pushTo}: lost the race to other commits ${attempts} times; the next attempt tries again`,
      this.url,
    );
  }

  /**
   * Makes the change `edit` computes from the branch's files, as one commit with `message` and the
   * trailer `Rotor-Change: <key>`, and pushes it (to `pushTo` when given, else the branch); again on
   * the new head when the push loses a race. An edit that changes nothing makes no commit (`commit` empty).
   */
  commitChange(input: {
    branch: string;
    pushTo?: string;
    key: string;
    message: string;
    author: Author;
    edit: (files: RepoFile[]) => EditResult;
    attempts?: number;
  }): Promise<Committed | { refusal: string }> {
    return this.change(input, input.key, input.author, input.attempts ?? 5, async (head, firstHead) => {
      const result = input.edit(this.read());
      if ('refusal' in result) {
        if (head === firstHead) return result;
        return { refusal: `${result.refusal}; the branch ${input.branch} moved while rotor pushed, to ${await this.subject(head)}: look at that commit` };
      }
      const removed = result.removed ?? [];
      if (!result.changed.length && !removed.length) return { nothing: true };
      for (const f of result.changed) {
        mkdirSync(dirname(join(this.dir, f.path)), { recursive: true });
        writeFileSync(join(this.dir, f.path), f.text);
      }
      if (result.changed.length) await this.git(['add', '--', ...result.changed.map((f) => f.path)]);
      if (removed.length) await this.git(['rm', '--quiet', '--', ...removed]);
      return { message: input.message };
    });
  }

  /**
   * Reverts `commit` (rotor's own) on the branch, as one commit with the trailer `Rotor-Change: <key>`,
   * pushed to `pushTo` when given, else the branch; again on the new head when the push loses a race. A
   * revert that conflicts (someone changed the same lines since) is refused, naming the commits.
   */
  revertChange(input: {
    branch: string;
    pushTo?: string;
    commit: string;
    key: string;
    message: string;
    author: Author;
    attempts?: number;
  }): Promise<Committed | { refusal: string }> {
    return this.change(input, input.key, input.author, input.attempts ?? 5, async () => {
      try {
        await this.git(['revert', '--no-edit', '--no-commit', input.commit]);
      } catch (err) {
        await this.git(['revert', '--abort']).catch(() => undefined);
        await this.git(['reset', '--quiet', '--hard']).catch(() => undefined);
        return {
          refusal: `reverting ${await this.subject(input.commit)} on ${input.branch} conflicts with what changed since (${(err as Error).message}): revert it by hand, then rotor's wait sees the workload back`,
        };
      }
      return { message: `${input.message}\n\nThis reverts commit ${input.commit}.` };
    });
  }
}
