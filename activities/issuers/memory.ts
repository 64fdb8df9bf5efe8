// A credential issuer in memory: the rules of docs/issuer-protocol.md in one place. The workflow
// tests' doubles use it directly; the sandbox's auth API emulator serves it over HTTP, so the HTTP
// adapter and this one answer alike (test/issuer.test.ts runs one contract against both).
import { randomBytes } from 'node:crypto';
import { RotorError } from '../errors';
import { versionOfCredential } from '../../domain/naming';
import type { CredentialIssuer, IssuedCredential } from '../ports';

export type IssuerMode = 'incident' | 'overlapping';

export interface MemoryIssuerOptions {
  /**
   * `incident`: issuing a credential revokes every older one of the same client at once (the provider
   * of the incident); `overlapping`: older ones stay valid until each is revoked, at most `maxLive`.
   */
  mode: IssuerMode;
  /** Overlapping only: live credentials one client may hold at once (default 2). */
  maxLive?: number;
  /**
   * The scope the API accepts (default auth:verify); a credential of another scope is refused with 403.
   * `<scope>@<environment>` (`auth:verify@staging`) is that scope confined to one environment: the API
   * accepts it only from callers in the namespace of that name, and refuses it with 403 elsewhere.
   */
  scope?: string;
  /**
   * Told each time a token becomes valid, wrong-scoped or revoked (the auth API's token table);
   * `onlyFrom`: a valid token confined to callers in that namespace.
   */
  onToken?: (token: string, state: 'valid' | 'bad-scope' | 'revoked', onlyFrom?: string) => void;
  log?: (line: string) => void;
}

interface Credential {
  id: string;
  token: string;
  scope: string;
  issuedAt: string;
  revokedAt: string | null;
}

/** The protocol's id: rotor's version name, or any name of letters, digits, ".", "_" and "-". */
const CREDENTIAL_ID = /^[A-Za-z0-9._-]{1,253}$/;

/** A credential's client: its id without rotor's `-YYYYMMDDHHMMSS` suffix and rotation tag (the Secret's base name). */
function clientOf(id: string): string {
  return versionOfCredential(id).replace(/-\d{14}$/, '');
}

export class MemoryCredentialIssuer implements CredentialIssuer {
  private readonly credentials = new Map<string, Credential>();
  private unavailable = 0;

  constructor(private readonly options: MemoryIssuerOptions) {}

  /** Switch between the incident's provider and an overlapping one (the demo's acts). */
  setMode(mode: IssuerMode): void {
    this.options.mode = mode;
  }

  /** The next `calls` calls fail as an issuer that does not answer (a fault for tests). */
  failNext(calls: number): void {
    this.unavailable = calls;
  }

  /** Every credential issued, without its token. */
  issued(): IssuedCredential[] {
    return [...this.credentials.values()].map(view);
  }

  /** Every token issued: only for the tests' leak check, which searches histories and logs for them. */
  tokensForLeakCheck(): string[] {
    return [...this.credentials.values()].map((c) => c.token);
  }

  /** The scope a credential must have for the API to accept it. */
  get validScope(): string {
    return this.options.scope ?? 'auth:verify';
  }

  async issue(request: { id: string; scope?: string }): Promise<{ token: string; issuedAt: string; created: boolean }> {
    this.fault(`issue a credential for ${request.id}`);
    if (!CREDENTIAL_ID.test(request.id)) {
      throw new RotorError('RotorInputError', 'send {"id": "<rotor version, e.g. auth-api-secrets-20261130120000>", "scope": "<optional>"}');
    }
    const existing = this.credentials.get(request.id);
    // Asked again for the same id (a retried activity): the same credential, nothing issued twice.
    if (existing) return { token: existing.token, issuedAt: existing.issuedAt, created: false };
    const client = clientOf(request.id);
    const live = [...this.credentials.values()].filter((c) => !c.revokedAt && clientOf(c.id) === client);
    const maxLive = this.options.maxLive ?? 2;
    if (this.options.mode === 'overlapping' && live.length >= maxLive) {
      throw new RotorError('Conflict', `${live.length} credentials of ${client} are live, the most this issuer allows; revoke one first`);
    }
    const now = new Date().toISOString();
    const credential: Credential = {
      id: request.id,
      token: `${request.id}.${randomBytes(24).toString('base64url')}`,
      scope: request.scope || this.validScope,
      issuedAt: now,
      revokedAt: null,
    };
    if (this.options.mode === 'incident') {
      // The incident's provider: a new credential revokes every older one of the client at once.
      for (const c of live) this.revokeNow(c, now);
    }
    this.credentials.set(credential.id, credential);
    const { state, onlyFrom } = this.judge(credential.scope);
    this.options.onToken?.(credential.token, state, onlyFrom);
    const scope = onlyFrom ? ` (scope ${credential.scope}: valid only from ${onlyFrom})` : state === 'valid' ? '' : ` (scope ${credential.scope})`;
    this.options.log?.(`[issuer] issued ${credential.id}${scope}`);
    return { token: credential.token, issuedAt: credential.issuedAt, created: true };
  }

  async revoke(id: string): Promise<IssuedCredential> {
    this.fault(`revoke the credential ${id}`);
    const credential = this.find(id);
    if (!credential.revokedAt) this.revokeNow(credential, new Date().toISOString());
    return view(credential);
  }

  async status(id: string): Promise<IssuedCredential> {
    this.fault(`read the credential ${id}`);
    return view(this.find(id));
  }

  /** What the API makes of a scope: the valid one, the valid one confined to one environment's namespace, or another (refused). */
  private judge(scope: string): { state: 'valid' | 'bad-scope'; onlyFrom?: string } {
    if (scope === this.validScope) return { state: 'valid' };
    const at = scope.lastIndexOf('@');
    const environment = scope.slice(at + 1);
    if (at > 0 && scope.slice(0, at) === this.validScope && environment) return { state: 'valid', onlyFrom: environment };
    return { state: 'bad-scope' };
  }

  private find(id: string): Credential {
    const credential = this.credentials.get(id);
    if (!credential) throw new RotorError('NotFound', `no credential ${id} was issued`);
    return credential;
  }

  private revokeNow(credential: Credential, at: string): void {
    credential.revokedAt = at;
    this.options.onToken?.(credential.token, 'revoked');
    this.options.log?.(`[issuer] revoked ${credential.id}`);
  }

  private fault(doing: string): void {
    if (this.unavailable <= 0) return;
    this.unavailable -= 1;
    throw new RotorError('Unavailable', `the issuer did not answer to ${doing}; it is retried`);
  }
}

function view(c: Credential): IssuedCredential & { scope: string } {
  return { id: c.id, scope: c.scope, state: c.revokedAt ? 'revoked' : 'active', issuedAt: c.issuedAt, revokedAt: c.revokedAt };
}
