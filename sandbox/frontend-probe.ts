// Whether a Temporal frontend serves yet: the readiness probe of the dev server (sandbox/temporal.ts) and
// of the server on PostgreSQL (sandbox/temporal-postgres.ts). A module of its own: the latter's tests are
// in the fast tier, which the dev server's module (it reaches the control plane) would take them out of.
import { Connection } from '@temporalio/client';

/** A readiness probe: the Temporal frontend at `address` answers `call` (connecting within a second). */
export async function frontendAnswers(address: string, call: (conn: Connection) => Promise<unknown>): Promise<boolean> {
  const conn = await Connection.connect({ address, connectTimeout: '1s' });
  try {
    await call(conn);
    return true;
  } finally {
    await conn.close();
  }
}
