// A real moto_server (installed by the bootstrap into ~/.cache/rotor, `--moto`) on a free loopback
// port: a local AWS Secrets Manager for the AWS store's tests. It accepts any credentials and region.
import { freePort } from './control-plane';
import { spawnChild, stopChild, waitUntilReady, withFreshPorts } from './processes';
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
  const child = spawnChild('moto', motoServer(), ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Unbuffered, so the last lines of a moto_server that failed to start are there to report.
    env: { ...process.env, ...opts.env, PYTHONUNBUFFERED: '1' },
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d).slice(-4000));
  child.proc.stdout!.on('data', keep);
  child.proc.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  try {
    // moto's own API answers once the server serves requests (the first start imports for seconds).
    await waitUntilReady(child, async () => (await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) })).ok, {
      where: url,
      timeoutMs: 60_000,
      intervalMs: 200,
      output: () => output,
    });
  } catch (err) {
    await stopChild(child, { log: opts.log });
    // werkzeug says "Address already in use": tag it so withFreshPorts tries another port.
    if (/address already in use/i.test(output)) throw new Error(`moto_server lost port ${port} (EADDRINUSE): ${(err as Error).message}`);
    throw err;
  }
  opts.log?.(`moto_server ready on ${url}`);
  return {
    url,
    pid: child.pid,
    async stop() {
      await stopChild(child, { log: opts.log });
    },
  };
}
