// Test-side access to the bootstrap's tools (the sandbox owns the paths).
export { cacheDir, repoRoot, temporalCli, temporalTestServer } from '../../sandbox/tools';
