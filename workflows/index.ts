// The workflow bundle's entry: only workflow functions are exported here.
export { rotateSecret } from './rotation';
export { deliverNotification } from './delivery';
