// The `aws-secrets-manager` store: every version rotor creates is also a version of the plan's AWS
// secret (`awsSecretsManager: { secretId, region }`), in step with the rotation: staged AWSPENDING at
// CREATING, AWSCURRENT once the last stage has passed (the old one then AWSPREVIOUS), AWSPENDING
// removed on rollback with AWSCURRENT never moved, and the old version's labels removed when cleanup
// deletes it in the cluster. The adapter (aws-secrets-manager.ts) moves labels by explicit version id.
import type { StoreTarget, ValueSource } from '../../domain/plan';
import { RotorError } from '../errors';
import type { SecretData, SecretStorePort, StageRequest } from '../ports';
import { resolveValue, type ValueOptions } from '../values';
import { AwsSecretsManager, type AwsSecretsManagerSettings } from './aws-secrets-manager';

export interface AwsStoreSettings extends Omit<AwsSecretsManagerSettings, 'region'> {
  /** The region when the plan names none (AWS_REGION, or the SDK's profile). */
  region?: string;
}

export class AwsSecretsManagerStore implements SecretStorePort {
  readonly kind: 'aws-secrets-manager' | 'external-secrets' = 'aws-secrets-manager';
  private readonly clients = new Map<string, AwsSecretsManager>();

  constructor(
    private readonly settings: AwsStoreSettings = {},
    private readonly values: ValueOptions = {},
  ) {}

  /** One client per region: a plan may name the region of its secret. */
  client(region?: string): AwsSecretsManager {
    const key = region ?? this.settings.region ?? '';
    let client = this.clients.get(key);
    if (!client) {
      client = new AwsSecretsManager({ ...this.settings, ...(key ? { region: key } : {}) });
      this.clients.set(key, client);
    }
    return client;
  }

  private target(target: StoreTarget | undefined): { aws: AwsSecretsManager; secretId: string } {
    const t = target?.awsSecretsManager;
    if (!t) throw new RotorError('RotorInputError', `store ${this.kind} needs the plan's awsSecretsManager: { secretId, region }`);
    return { aws: this.client(t.region), secretId: t.secretId };
  }

  /**
   * PLANNING: the secret answers, and no other rotation of it is in progress. AWS allows one AWSPENDING
   * version, and staging moves the label: a version already AWSPENDING belongs to another rotation
   * (rotor's, in another cluster or namespace, or a rotation Lambda's), which rotor would break. As
   * AWS's own RotateSecret does, rotor refuses to start then, unless the plan takes exactly that
   * staged value (`value: { awsSecretsManager: { secretId: <this secret>, versionStage: AWSPENDING } }`).
   */
  async check(target?: StoreTarget, value?: ValueSource): Promise<string> {
    const { aws, secretId } = this.target(target);
    const described = await aws.describe(secretId);
    const current = described.versions.find((v) => v.stages.includes('AWSCURRENT'));
    const pending = described.versions.find((v) => v.stages.includes('AWSPENDING'));
    const source = value && 'awsSecretsManager' in value ? value.awsSecretsManager : undefined;
    const takesPending =
      source && (source.versionStage ?? 'AWSPENDING') === 'AWSPENDING' && [secretId, described.name, described.arn].includes(source.secretId);
    if (pending && !takesPending) {
      const byRotor = /^rotor-[0-9a-f]{40}$/.test(pending.versionId);
      throw new RotorError(
        'OwnershipConflict',
        `version ${pending.versionId} of ${described.name} is AWSPENDING: ${
          byRotor ? 'another rotor rotation of this secret is in progress (or one that failed left it)' : 'someone else staged it (a rotation Lambda?)'
        }, and staging rotor's version would take the label from it. Wait for that rotation to end${
          byRotor ? '' : `, or use its value (value: { awsSecretsManager: { secretId: ${described.name}, versionStage: AWSPENDING } })`
        }; if none runs, remove the label: aws secretsmanager update-secret-version-stage --secret-id ${described.name} --version-stage AWSPENDING --remove-from-version-id ${pending.versionId}`,
        secretId,
      );
    }
    return `AWS Secrets Manager secret ${described.name} answers; AWSCURRENT is version ${current?.versionId ?? '(none)'}${
      pending ? `; AWSPENDING is ${pending.versionId}, the value this rotation takes` : ''
    }`;
  }

  /** The VersionId of `version` made by `rotationId`: that rotation's alone (AwsSecretsManager.versionToken). */
  versionIdFor(version: string, rotationId: string): string {
    return this.client().versionToken(version, rotationId);
  }

  async stageVersion(request: StageRequest): Promise<SecretData> {
    const { aws, secretId } = this.target(request.target);
    const versionId = request.versionId ?? aws.versionToken(request.version);
    // Idempotent by version: an earlier attempt that staged it (and then failed before the cluster
    // Secret) is found by its VersionId and its value used, never a second value generated.
    try {
      return await aws.read({ secretId, versionId });
    } catch (err) {
      if (!(err instanceof RotorError && err.type === 'NotFound')) throw err;
    }
    const data = request.issued ?? (await this.resolve(request.value));
    request.check?.(data); // a value no good for the Secret's type is never staged
    await aws.stage({ secretId, version: request.version, data, versionId });
    return data;
  }

  async promoteVersion(request: { secret: string; version: string; target?: StoreTarget; versionId?: string }): Promise<void> {
    const { aws, secretId } = this.target(request.target);
    await aws.promote({ secretId, version: request.version, ...(request.versionId ? { versionId: request.versionId } : {}) });
  }

  async markFailed(request: { secret: string; version: string; target?: StoreTarget; versionId?: string }): Promise<void> {
    const { aws, secretId } = this.target(request.target);
    await aws.discard({ secretId, version: request.version, ...(request.versionId ? { versionId: request.versionId } : {}) });
  }

  async deleteVersion(request: { secret: string; version: string; target?: StoreTarget; versionId?: string }): Promise<void> {
    const { aws, secretId } = this.target(request.target);
    // A previous version rotor did not write (before rotor used the store) has no labels of rotor's: nothing to do.
    await aws.retire({ secretId, version: request.version, ...(request.versionId ? { versionId: request.versionId } : {}) });
  }

  /** The value sources: someone else's staged value by id and stage, or those every store shares. */
  private async resolve(value: ValueSource): Promise<SecretData> {
    if ('awsSecretsManager' in value) {
      const { secretId, versionStage = 'AWSPENDING', region } = value.awsSecretsManager;
      return this.client(region).read({ secretId, versionStage });
    }
    return resolveValue(value, this.values);
  }
}

/**
 * The `external-secrets` store: the value is kept in AWS Secrets Manager exactly as by the
 * `aws-secrets-manager` store (staged, promoted, discarded, retired by explicit version id), and the
 * cluster gets each version through an ExternalSecret pinned to that version (`uuid/<VersionId>`),
 * which External Secrets Operator turns into the immutable Secret.
 */
export class ExternalSecretsStore extends AwsSecretsManagerStore {
  override readonly kind = 'external-secrets' as const;

  remoteRef(request: { version: string; target?: StoreTarget; versionId?: string }): { key: string; version: string } {
    const secretId = request.target?.awsSecretsManager?.secretId;
    if (!secretId) throw new RotorError('RotorInputError', "store external-secrets needs the plan's awsSecretsManager: { secretId, region }");
    return { key: secretId, version: `uuid/${request.versionId ?? this.client(request.target?.awsSecretsManager?.region).versionToken(request.version)}` };
  }

  /** What the SecretStore must read for the ExternalSecrets to get what rotor wrote: AWS Secrets Manager, in this region. */
  async externalProvider(target?: StoreTarget): Promise<{ service: 'SecretsManager'; region?: string }> {
    const region = await this.client(target?.awsSecretsManager?.region).region();
    return { service: 'SecretsManager', ...(region ? { region } : {}) };
  }
}
