// A real moto_server (installed by the bootstrap into ~/.cache/rotor, `--moto`) on a free loopback
// port: a local AWS Secrets Manager for the AWS store's tests. It accepts any credentials and region.
import { freePort } from './control-plane';
import { answers, startServer, stopChild, withFreshPorts } from './processes';
import { motoServer } from './tools';

export interface MotoServer {
  /** The endpoint to give the AWS SDK, e.g. http://127.0.0.1:40123 */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface MotoOptions {
  log?: (line: string) => void;
  /** moto's own settings, e.g. INITIAL_NO_AUTH_ACTION_COUNT=0 to check credentials against its IAM. */
  env?: Record<string, string>;
}

export function startMoto(opts: MotoOptions = {}): Promise<MotoServer> {
  return withFreshPorts(() => startOnce(opts));
}

async function startOnce(opts: MotoOptions): Promise<MotoServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { child } = await startServer('moto', motoServer(), ['-H', '127.0.0.1', '-p', String(port)], {
    // Unbuffered, so the last lines of a moto_server that failed to start are there to report.
    env: { ...process.env, ...opts.env, PYTHONUNBUFFERED: '1' },
    // moto's own API answers once the server serves requests (the first start imports for seconds).
    ready: answers(`${url}/moto-api/`),
    where: url,
    log: opts.log,
  });
  opts.log?.(`moto_server ready on ${url}`);
  return {
    url,
    pid: child.pid,
    async stop() {
      await stopChild(child, { log: opts.log });
    },
  };
}
