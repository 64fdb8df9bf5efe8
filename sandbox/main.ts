// `npm run sandbox`: bring up the local control plane and pod simulator, print what to export, and
// stop cleanly on Ctrl-C: the simulator, controller-manager, apiserver, then etcd, within seconds.
import { startSandbox, type Sandbox } from './index';
import { isShuttingDown, onShutdownSignals } from './processes';

const log = (line: string) => process.stderr.write(`[sandbox] ${line}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  let sandbox: Sandbox | undefined; // eslint-disable-line prefer-const -- the shutdown handler reads it before it is assigned
  // Before anything starts: a Ctrl-C during start-up stops what is already running, in order too.
  onShutdownSignals(async () => sandbox?.stop(), log);
  sandbox = await startSandbox({ log, readyDelayMs: 1000 });
  const { plane } = sandbox;
  process.stdout.write(
    [
      `sandbox up in ${((Date.now() - started) / 1000).toFixed(1)} s: kube-apiserver ${plane.server} (RBAC), controller-manager, 2 simulated nodes`,
      'export these in another shell:',
      `  export KUBECONFIG=${plane.kubeconfig}`,
      `  export PATH=${plane.binaries.kubectl.replace(/\/kubectl$/, '')}:$PATH   # kubectl ${'v1.37.2'}`,
      `pids: ${Object.entries(plane.pids)
        .map(([name, pid]) => `${name}=${pid}`)
        .join(' ')} (rotor ${process.pid})`,
      `logs: ${plane.dir}/logs; Ctrl-C stops everything`,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  // A start-up cut short by Ctrl-C fails on the processes being stopped: the shutdown reports instead.
  if (isShuttingDown()) return;
  log(err.message);
  process.exit(1);
});
