export { freePort, startDevServer, type DevServer } from '../../sandbox/temporal';
