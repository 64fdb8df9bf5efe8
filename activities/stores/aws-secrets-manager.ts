// AWS Secrets Manager: the versions of one secret, each named by rotor's version (its VersionId is
// derived from it, so a retried write lands on the same version), moved between the staging labels
// AWSPENDING, AWSCURRENT and AWSPREVIOUS by rotor itself, one explicit UpdateSecretVersionStage at a
// time. Every read names its VersionId or VersionStage: a GetSecretValue without either is not the
// same thing on AWS and on moto (moto keeps answering with the old value after AWSCURRENT moved).
//
// The SDK is loaded on first use, so a worker without an AWS store never loads it. Every SDK error
// becomes a RotorError that says what to check, with the AWS error code only: never the service's
// message or response body, never a value (aws-errors.ts).
import { createHash } from 'node:crypto';
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { RotorError } from '../errors';
import { translateAwsError, type SdkError } from './aws-errors';
import { sameData } from '../values';
import type { SecretData } from '../ports';

type Sdk = typeof import('@aws-sdk/client-secrets-manager');

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPENDING = 'AWSPENDING';
export const AWSPREVIOUS = 'AWSPREVIOUS';

export interface AwsSecretsManagerSettings {
  /** Otherwise the SDK's chain: AWS_REGION, then the profile in ~/.aws/config. */
  region?: string;
  /** Overrides the AWS endpoint, e.g. a moto_server's http://127.0.0.1:PORT. */
  endpoint?: string;
  /** Attempts per call, the first included (the SDK retries throttling, 5xx and network errors). Default 3. */
  maxAttempts?: number;
  /** `standard` (default) or `adaptive` (also slows the client down once AWS throttles it). */
  retryMode?: 'standard' | 'adaptive';
  /** Otherwise the SDK's standard chain: environment, SSO, ~/.aws files, web identity (IRSA), ECS, EC2. */
  credentials?: SecretsManagerClientConfig['credentials'];
  /** Connection and response timeout of each attempt. Default 10 s. */
  timeoutMs?: number;
}

export interface SecretDescription {
  arn: string;
  name: string;
  /** Versions that carry at least one staging label (AWS omits the others; moto lists them with none). */
  versions: { versionId: string; stages: string[] }[];
}

/** What a label operation did: `changed` is false when the labels already were as asked. */
export interface Relabelled {
  versionId: string;
  changed: boolean;
}

/** A label move that found the labels moved under it (another writer) re-reads them, this often. */
const RELABEL_TRIES = 3;

/**
 * The SecretString of a version as rotor's data: a JSON object's entries (numbers and booleans as
 * their text, anything nested as its JSON); any other string, JSON or not, is one value under the
 * key `value` (a secret a person or another tool stored as plain text).
 */
export function parseSecretString(text: string): SecretData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { value: text };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { value: text };
  return Object.fromEntries(
    Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v)]),
  );
}

function holderOf(versions: Record<string, string[]>, stage: string): string | undefined {
  return Object.entries(versions).find(([, stages]) => stages.includes(stage))?.[0];
}

export class AwsSecretsManager {
  private loaded?: Promise<{ sdk: Sdk; client: SecretsManagerClient }>;

  constructor(private readonly settings: AwsSecretsManagerSettings = {}) {}

  /**
   * The ClientRequestToken, and so the AWS VersionId, of rotor's `version` made by `rotationId`:
   * `rotor-` and the first 40 hex digits of their SHA-256 (46 characters; AWS takes 32 to 64). The
   * same rotation's version always maps to the same VersionId, which is what makes a retried write
   * idempotent; another rotation that chose the same version name gets another. Without `rotationId`:
   * the VersionId older releases derived from the version name alone.
   */
  versionToken(version: string, rotationId?: string): string {
    const of = rotationId === undefined ? version : `${version}\n${rotationId}`;
    return `rotor-${createHash('sha256').update(of).digest('hex').slice(0, 40)}`;
  }

  /** The region this client talks to: its setting, else what the SDK's chain resolves (environment, profile). */
  async region(): Promise<string | undefined> {
    const { client } = await this.sdk();
    return client.config.region().catch(() => undefined);
  }

  async describe(secretId: string): Promise<SecretDescription> {
    const { arn, name, stages } = await this.describeRaw(secretId);
    return {
      arn,
      name,
      versions: Object.entries(stages)
        .filter(([, s]) => s.length > 0)
        .map(([versionId, s]) => ({ versionId, stages: [...s] })),
    };
  }

  /** VersionId -> staging labels, for the versions that have any. */
  async labels(secretId: string): Promise<Record<string, string[]>> {
    const { versions } = await this.describe(secretId);
    return Object.fromEntries(versions.map((v) => [v.versionId, v.stages]));
  }

  /**
   * Writes `data` as the version `version`, labelled AWSPENDING. Idempotent: if the version exists
   * with the same data nothing is written (`created: false`); with other data it is a
   * VersionContentMismatch. AWS refuses such a write itself, moto overwrites, so rotor checks first.
   */
  async stage(request: { secretId: string; version: string; data: SecretData; versionId?: string }): Promise<{ versionId: string; created: boolean }> {
    const { secretId, version, data } = request;
    const versionId = request.versionId ?? this.versionToken(version);
    const existing = await this.readIfExists(secretId, versionId);
    if (existing) return { versionId, created: this.sameOrMismatch(existing, data, secretId, version, versionId) };
    try {
      await this.call('stage', secretId, 'PutSecretValue', ({ sdk, client }) =>
        client.send(
          new sdk.PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(data), ClientRequestToken: versionId, VersionStages: [AWSPENDING] }),
        ),
      );
    } catch (err) {
      // AWS: another writer created this VersionId in between with other data (ResourceExists).
      if (!(err instanceof RotorError && err.type === 'Conflict')) throw err;
      const now = await this.readIfExists(secretId, versionId);
      if (!now) throw err;
      return { versionId, created: this.sameOrMismatch(now, data, secretId, version, versionId) };
    }
    return { versionId, created: true };
  }

  /** The data of one version, named by exactly one of its VersionId or a staging label. */
  async read(request: { secretId: string; versionId?: string; versionStage?: string }): Promise<SecretData> {
    const { secretId, versionId, versionStage } = request;
    if ((versionId === undefined) === (versionStage === undefined)) {
      throw new RotorError('RotorInputError', `reading ${secretId} from AWS Secrets Manager needs exactly one of versionId or versionStage`, secretId);
    }
    const which = versionId !== undefined ? `version ${versionId}` : `version labelled ${versionStage}`;
    const data = await this.readIfExists(secretId, versionId, versionStage);
    if (!data) throw new RotorError('NotFound', `secret ${secretId} in AWS Secrets Manager (${this.where()}) has no ${which}`, secretId, 404);
    return data;
  }

  /**
   * Makes `version` AWSCURRENT: one UpdateSecretVersionStage moves AWSCURRENT from the version that has
   * it (RemoveFromVersionId) to this one; AWSPREVIOUS then goes to the old current if the store did
   * not move it there itself; AWSPENDING comes off this version. Again when already current: the
   * labels are only read, and whatever of the last two steps is missing is done.
   */
  async promote(request: { secretId: string; version: string; versionId?: string }): Promise<Relabelled> {
    const { secretId, version } = request;
    const versionId = request.versionId ?? this.versionToken(version);
    return this.relabel(secretId, versionId, async () => {
      let { stages } = await this.describeRaw(secretId);
      let changed = false;
      if (!(versionId in stages) && !(await this.readIfExists(secretId, versionId))) {
        throw new RotorError('NotFound', `secret ${secretId} has no version ${version} (VersionId ${versionId}) to promote; stage it first`, secretId, 404);
      }
      const oldCurrent = holderOf(stages, AWSCURRENT);
      if (oldCurrent !== versionId) {
        await this.move(secretId, AWSCURRENT, versionId, oldCurrent);
        changed = true;
        ({ stages } = await this.describeRaw(secretId));
        // AWS and moto attach AWSPREVIOUS to the old current themselves; rotor does not count on it.
        const previous = holderOf(stages, AWSPREVIOUS);
        if (oldCurrent && previous !== oldCurrent) {
          await this.move(secretId, AWSPREVIOUS, oldCurrent, previous);
          ({ stages } = await this.describeRaw(secretId));
        }
      }
      if (stages[versionId]?.includes(AWSPENDING)) {
        await this.move(secretId, AWSPENDING, undefined, versionId);
        changed = true;
      }
      return changed;
    });
  }

  /** Rollback of a staged version: AWSPENDING comes off it; AWSCURRENT is never touched. */
  async discard(request: { secretId: string; version: string; versionId?: string }): Promise<Relabelled> {
    const { secretId, version } = request;
    const versionId = request.versionId ?? this.versionToken(version);
    return this.relabel(secretId, versionId, async () => {
      const { stages } = await this.describeRaw(secretId);
      if (!stages[versionId]?.includes(AWSPENDING)) return false;
      await this.move(secretId, AWSPENDING, undefined, versionId);
      return true;
    });
  }

  /**
   * Cleanup of an old version (after its Kubernetes Secrets are gone): every staging label comes off
   * it, one call per label. The AWSCURRENT version is refused: retiring it would leave the secret
   * without a current value.
   */
  async retire(request: { secretId: string; version: string; versionId?: string }): Promise<Relabelled> {
    const { secretId, version } = request;
    const versionId = request.versionId ?? this.versionToken(version);
    return this.relabel(secretId, versionId, async () => {
      const { stages } = await this.describeRaw(secretId);
      const labels = stages[versionId] ?? [];
      if (labels.includes(AWSCURRENT)) {
        throw new RotorError(
          'Conflict',
          `version ${version} (VersionId ${versionId}) of ${secretId} is AWSCURRENT in AWS Secrets Manager; rotor retires only versions that are no longer current`,
          secretId,
        );
      }
      for (const label of labels) await this.move(secretId, label, undefined, versionId);
      return labels.length > 0;
    });
  }

  // --- internals ---

  private sdk(): Promise<{ sdk: Sdk; client: SecretsManagerClient }> {
    this.loaded ??= import('@aws-sdk/client-secrets-manager').then((sdk) => {
      const { region, endpoint, credentials, maxAttempts = 3, retryMode = 'standard', timeoutMs = 10_000 } = this.settings;
      const client = new sdk.SecretsManagerClient({
        ...(region ? { region } : {}),
        ...(endpoint ? { endpoint } : {}),
        ...(credentials ? { credentials } : {}),
        maxAttempts,
        retryMode,
        // Without throwOnRequestTimeout this SDK only logs a warning when an answer is late, and waits on.
        requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true },
      });
      return { sdk, client };
    });
    return this.loaded;
  }

  private where(): string {
    const region = this.settings.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (this.settings.endpoint) return `${this.settings.endpoint}${region ? `, region ${region}` : ''}`;
    return region ? `region ${region}` : 'the region of the AWS config';
  }

  private async describeRaw(secretId: string): Promise<{ arn: string; name: string; stages: Record<string, string[]> }> {
    const out = await this.call('describe', secretId, 'DescribeSecret', ({ sdk, client }) =>
      client.send(new sdk.DescribeSecretCommand({ SecretId: secretId })),
    );
    return { arn: out.ARN ?? '', name: out.Name ?? secretId, stages: out.VersionIdsToStages ?? {} };
  }

  /** The data of a version, or null when the secret has no such version (a missing secret is NotFound). */
  private async readIfExists(secretId: string, versionId?: string, versionStage?: string): Promise<SecretData | null> {
    let out;
    try {
      out = await this.call('read', secretId, 'GetSecretValue', ({ sdk, client }) =>
        client.send(new sdk.GetSecretValueCommand({ SecretId: secretId, VersionId: versionId, VersionStage: versionStage })),
      );
    } catch (err) {
      if (!(err instanceof RotorError && err.type === 'NotFound')) throw err;
      await this.describeRaw(secretId); // NotFound of the secret itself, or it has no such version
      return null;
    }
    if (out.SecretString === undefined) {
      throw new RotorError(
        'RotorInputError',
        `secret ${secretId} holds a binary value (SecretBinary) in AWS Secrets Manager; rotor reads and writes SecretString`,
        secretId,
      );
    }
    return parseSecretString(out.SecretString);
  }

  private sameOrMismatch(existing: SecretData, data: SecretData, secretId: string, version: string, versionId: string): false {
    if (sameData(existing, data)) return false;
    throw new RotorError(
      'VersionContentMismatch',
      `version ${version} (VersionId ${versionId}) of ${secretId} already holds another value in AWS Secrets Manager; a version is never overwritten, stage a new version`,
      secretId,
    );
  }

  /** One UpdateSecretVersionStage: `stage` onto `to` (if given), off `from` (if given). */
  private async move(secretId: string, stage: string, to: string | undefined, from: string | undefined): Promise<void> {
    await this.call(`move ${stage}`, secretId, 'UpdateSecretVersionStage', ({ sdk, client }) =>
      client.send(
        new sdk.UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: stage,
          ...(to ? { MoveToVersionId: to } : {}),
          ...(from ? { RemoveFromVersionId: from } : {}),
        }),
      ),
    );
  }

  /**
   * Runs a read-then-move label operation; when a move is refused as invalid (the labels moved between
   * the read and the move: another writer), it reads the labels again and retries, a few times.
   */
  private async relabel(secretId: string, versionId: string, op: () => Promise<boolean>): Promise<Relabelled> {
    for (let attempt = 1; ; attempt++) {
      try {
        return { versionId, changed: await op() };
      } catch (err) {
        if (attempt >= RELABEL_TRIES || !(err instanceof RotorError && err.type === 'RotorInputError' && err.object === secretId && err.status === 400))
          throw err;
      }
    }
  }

  private async call<T>(doing: string, secretId: string, action: string, send: (c: { sdk: Sdk; client: SecretsManagerClient }) => Promise<T>): Promise<T> {
    const loaded = await this.sdk();
    try {
      return await send(loaded);
    } catch (err) {
      throw translateAwsError(err as SdkError, { doing, secretId, action, where: this.where(), timeoutMs: this.settings.timeoutMs ?? 10_000 });
    }
  }
}
