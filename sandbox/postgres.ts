// PostgreSQL for the Temporal server of sandbox/temporal-postgres.ts: a throwaway cluster (Debian's
// PostgreSQL 15 from the bootstrap) in a temporary directory, run as an unprivileged user when we are
// root (it refuses root), on 127.0.0.1 with password authentication, and Temporal's two databases made
// by the server's own temporal-sql-tool.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../worker/free-port';
import { startServer, withFreshPorts } from './processes';

const run = promisify(execFile);

export interface User {
  uid: number;
  gid: number;
}

/** Who runs PostgreSQL: the `postgres` user when we are root (PostgreSQL refuses root), else ourselves. */
export async function postgresUser(): Promise<User | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim());
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    throw new Error("PostgreSQL refuses to run as root and there is no `postgres` user to run it as: install Debian's postgresql-15 package, which makes one");
  }
}

export async function startPostgres(dir: string, bin: string, user: User | undefined, password: string, log?: (line: string) => void) {
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(pwfile, user.uid, user.gid);
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  // A throwaway cluster: no fsync (nothing here must survive a machine crash, only a Temporal server's).
  await run(join(bin, 'initdb'), ['-D', data, '-U', 'temporal', '--pwfile', pwfile, '--auth', 'scram-sha-256', '-E', 'UTF8', '--locale', 'C', '--no-sync'], {
    ...as,
    cwd: dir,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`initdb failed: ${err.stderr?.trim() || err.message}`);
  });
  rmSync(pwfile);
  return withFreshPorts(async () => {
    const port = await freePort();
    const { child } = await startServer(
      'postgresql',
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=300',
      ],
      {
        ...(user ? { user } : {}),
        ready: async () => {
          await run(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]);
          return true;
        },
        where: `127.0.0.1:${port}`,
        log,
      },
    );
    return { child, port };
  });
}

/** The temporal and temporal_visibility databases, each at the newest version of the schema the server came with. */
export async function createSchema(sqlTool: string, schema: string, port: number, password: string): Promise<void> {
  const env = { ...process.env, SQL_PLUGIN: 'postgres12', SQL_HOST: '127.0.0.1', SQL_PORT: String(port), SQL_USER: 'temporal', SQL_PASSWORD: password };
  const tool = async (db: string, args: string[]) => {
    try {
      await run(sqlTool, ['--db', db, ...args], { env: { ...env, SQL_DATABASE: db } });
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`temporal-sql-tool --db ${db} ${args.join(' ')} failed: ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim().slice(-2000) || e.message}`);
    }
  };
  await Promise.all(
    [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ].map(async ([db, dirName]) => {
      await tool(db, ['create-database']);
      await tool(db, ['setup-schema', '-v', '0.0']);
      await tool(db, ['update-schema', '-d', join(schema, dirName, 'versioned')]);
    }),
  );
}

/**
 * The System V shared memory segment of a postmaster killed with -9 (PostgreSQL removes it at a clean
 * stop): its id is on postmaster.pid's 7th line. Marked for removal, it goes once its last process has.
 */
export function removeSharedMemory(dir: string): void {
  try {
    const id = readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8')
      .split('\n')[6]
      ?.trim()
      .split(/\s+/)[1];
    if (id && /^\d+$/.test(id)) execFileSync('ipcrm', ['-m', id], { stdio: 'ignore' });
  } catch {
    // No pid file (never started, or stopped cleanly), or already gone.
  }
}
