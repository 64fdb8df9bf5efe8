// The dev server for tests: the sandbox's, with the leak check's evidence kept: before it stops, the
// history of every workflow it ran is recorded (test/helpers/leak.ts).
import { startDevServer as startSandboxDevServer, type DevServer, type DevServerOptions } from '../../sandbox/temporal';
import { recordServerHistories } from './leak';

export { freePort, type DevServer } from '../../sandbox/temporal';

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const server = await startSandboxDevServer(options);
  return {
    ...server,
    async stop() {
      try {
        await recordServerHistories(server.address);
      } finally {
        await server.stop();
      }
    },
  };
}
