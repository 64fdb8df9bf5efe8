// How the worker, the CLI and the tests reach Temporal: one reading of the connection settings from
// the environment, and one data converter (with the payload codec when keys are configured, for all of them).
import { hostname } from 'node:os';
import type { DataConverter } from '@temporalio/common';
import { TASK_QUEUE } from '../contract/api';
import { codecFromEnv } from './codec';
import { rotorVersion } from './version';

export { TemporalUnreachableError } from './unreachable';

export interface TemporalSettings {
  /** host:port of the frontend (TEMPORAL_ADDRESS). */
  address: string;
  /** The Temporal namespace (TEMPORAL_NAMESPACE). */
  namespace: string;
  /** The task queue rotor's workers poll and the CLI starts rotations on (ROTOR_TASK_QUEUE). */
  taskQueue: string;
}

const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/;

/** The settings, and every problem with them (each names the variable and a valid value). */
export function readTemporalSettings(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<TemporalSettings> = {},
): { settings: TemporalSettings; problems: string[] } {
  const settings: TemporalSettings = {
    address: overrides.address ?? env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: overrides.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: overrides.taskQueue ?? env.ROTOR_TASK_QUEUE ?? TASK_QUEUE,
  };
  const problems: string[] = [];
  if (!HOST_PORT.test(settings.address))
    problems.push(`TEMPORAL_ADDRESS=${settings.address} is not host:port; set it like 127.0.0.1:7233 or temporal.example.com:7233`);
  if (settings.namespace.trim() === '') problems.push('TEMPORAL_NAMESPACE is empty; set it to a Temporal namespace such as default, or unset it');
  if (settings.taskQueue.trim() === '') problems.push(`ROTOR_TASK_QUEUE is empty; set it to a task queue name such as ${TASK_QUEUE}, or unset it`);
  return { settings, problems };
}

/** The settings, or an error listing every problem. */
export function temporalSettings(env: NodeJS.ProcessEnv = process.env, overrides: Partial<TemporalSettings> = {}): TemporalSettings {
  const { settings, problems } = readTemporalSettings(env, overrides);
  if (problems.length) throw new Error(problems.join('; '));
  return settings;
}

/**
 * The one data converter of worker, client and tests. Without codec keys: Temporal's default JSON
 * payloads. With ROTOR_CODEC_KEYS_FILE or ROTOR_CODEC_KEY (temporal/codec.ts): every payload encrypted
 * by the codec, and failure messages and stack traces encoded into a payload so they are encrypted
 * too. The failure converter goes by path: the worker's bundler puts it into the workflow bundle when
 * it bundles `workflowsPath` (a bundle made with bundleWorkflowCode needs `failureConverterPath` too).
 * Throws a CodecKeyError when the keys are set but unusable.
 */
export function dataConverter(env: NodeJS.ProcessEnv = process.env): DataConverter {
  const codec = codecFromEnv(env);
  if (!codec) return {};
  return { payloadCodecs: [codec], failureConverterPath: require.resolve('./failure-converter') };
}

/** The identity a worker polls with, as the server lists it (`rotor version`, the Web UI): the SDK's pid@host and rotor's version. */
export function workerIdentity(): string {
  return `${process.pid}@${hostname()} rotor@${rotorVersion()}`;
}
