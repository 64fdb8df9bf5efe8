// AWS Secrets Manager's errors as RotorErrors (aws-secrets-manager.ts): by the AWS error code and
// the HTTP status only, each saying what to check; never the service's message or response body,
// never a value.
import { RotorError, type RotorErrorType } from '../errors';

/** AWS error codes (the error's name in the SDK) and what each means to rotor. */
const FORBIDDEN = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'MissingAuthenticationToken',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'CredentialsProviderError',
]);
const KMS = new Set(['DecryptionFailure', 'EncryptionFailure']);
const THROTTLED = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'RequestThrottled']);
const SERVER = new Set(['InternalServiceError', 'InternalFailure', 'ServiceUnavailable', 'ServiceUnavailableException']);
const INPUT = new Set(['InvalidRequestException', 'InvalidParameterException', 'ValidationException', 'MalformedPolicyDocumentException']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

export interface SdkError extends Error {
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** An SDK call: what it was doing (in words), the secret, the IAM action, where the client talks to, its timeout. */
export interface AwsCall {
  doing: string;
  secretId: string;
  action: string;
  where: string;
  timeoutMs: number;
}

/** The RotorError for an SDK error: its code and status, what to check; never its message or body. */
export function translateAwsError(err: SdkError, call: AwsCall): RotorError {
  const { doing, secretId, action, where } = call;
  const status = err.$metadata?.httpStatusCode;
  // An answer the SDK could not parse (moto answers some refusals in XML) has only its status.
  const unparsed = status !== undefined && (err.name === 'SyntaxError' || /deserialization error/i.test(err.message ?? ''));
  const code = unparsed ? `HTTP ${status}` : err.name && err.name !== 'Error' ? err.name : (err.code ?? 'Error');
  const attempts = err.$metadata?.attempts;
  const error = (type: RotorErrorType, message: string) => new RotorError(type, message, secretId, status);
  const tried = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';

  if (code === 'ResourceNotFoundException') return error('NotFound', `no secret ${secretId} in AWS Secrets Manager (${where}); create it or fix the secret id`);
  if (code === 'CredentialsProviderError') {
    return error(
      'Forbidden',
      `no AWS credentials to ${doing} ${secretId}: check the AWS credentials chain on the worker (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the web identity token of its service account, the instance role)`,
    );
  }
  if (FORBIDDEN.has(code) || status === 401 || status === 403) {
    return error(
      'Forbidden',
      `AWS Secrets Manager (${where}) refused to ${doing} ${secretId} (${code}${status && !unparsed ? `, HTTP ${status}` : ''}): check the AWS credentials chain on the worker and that its IAM identity is allowed secretsmanager:${action} on the secret`,
    );
  }
  if (KMS.has(code)) {
    return error(
      'Forbidden',
      `AWS Secrets Manager (${where}) could not ${doing} ${secretId} (${code}): check that the worker's IAM identity may use the secret's KMS key (kms:Decrypt, kms:GenerateDataKey)`,
    );
  }
  if (THROTTLED.has(code))
    return error('Unavailable', `AWS Secrets Manager (${where}) throttled the ${action} of ${secretId}${tried} (${code}); it is retried`);
  if (SERVER.has(code) || err.$fault === 'server' || (status !== undefined && status >= 500)) {
    return error(
      'Unavailable',
      `AWS Secrets Manager (${where}) failed to ${doing} ${secretId}${tried} (${code}${status ? `, HTTP ${status}` : ''}); it is retried`,
    );
  }
  if (code === 'TimeoutError' || code === 'RequestTimeout' || code === 'AbortError' || /timeout/i.test(code)) {
    return error('Unavailable', `AWS Secrets Manager at ${where} did not answer within ${call.timeoutMs / 1000} s${tried} to ${doing} ${secretId}`);
  }
  if (NETWORK.has(err.code ?? '') || NETWORK.has(code))
    return error('Unavailable', `cannot reach AWS Secrets Manager at ${where} (${err.code ?? code})${tried} to ${doing} ${secretId}`);
  if (/region is missing/i.test(err.message ?? '')) {
    return error('RotorInputError', `no AWS region to ${doing} ${secretId}: set the store's region, AWS_REGION, or a region in the AWS config profile`);
  }
  if (INPUT.has(code)) return error('RotorInputError', `AWS Secrets Manager (${where}) rejected the ${action} of ${secretId} (${code})`);
  if (code === 'ResourceExistsException')
    return error('Conflict', `AWS Secrets Manager (${where}) refused the ${action} of ${secretId}: it exists already (${code})`);
  if (status === undefined && !err.$fault) {
    // No HTTP answer at all: a network error the SDK names its own way.
    return error('Unavailable', `cannot reach AWS Secrets Manager at ${where} (${err.code ?? code})${tried} to ${doing} ${secretId}`);
  }
  return error('ProviderError', `AWS Secrets Manager (${where}) failed to ${doing} ${secretId} (${code}${status ? `, HTTP ${status}` : ''})`);
}
