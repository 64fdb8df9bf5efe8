// `npm run sandbox`: bring up the local control plane and pod simulator, print what to export, and
// stop cleanly on Ctrl-C.
import { startSandbox } from './index';

async function main(): Promise<void> {
  const started = Date.now();
  const sandbox = await startSandbox({ log: (l) => process.stderr.write(`[sandbox] ${l}\n`), readyDelayMs: 1000 });
  const { plane } = sandbox;
  process.stdout.write(
    [
      `sandbox up in ${((Date.now() - started) / 1000).toFixed(1)} s: kube-apiserver ${plane.server} (RBAC), controller-manager, 2 simulated nodes`,
      'export these in another shell:',
      `  export KUBECONFIG=${plane.kubeconfig}`,
      `  export PATH=${plane.binaries.kubectl.replace(/\/kubectl$/, '')}:$PATH   # kubectl ${'v1.37.2'}`,
      `logs: ${plane.dir}/logs; Ctrl-C stops everything`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('[sandbox] stopping ...\n');
    await sandbox.stop();
    process.stderr.write('[sandbox] stopped\n');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`[sandbox] ${err.message}\n`);
  process.exit(1);
});
