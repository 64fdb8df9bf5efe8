// The HTTP credential issuer: the small protocol of docs/issuer-protocol.md, which a team can put in
// front of its real provider. Issue, revoke and status, each idempotent by rotor's version id. The
// issuer's token goes in the Authorization header only; the credential comes back only from issue
// and is never part of an error (a 4xx says the issuer's `error` field, which carries no token).
import { RotorError, type RotorErrorType } from '../errors';
import type { CredentialIssuer, IssuedCredential } from '../ports';
import { reveal, type Credential } from '../credentials';

export interface HttpIssuerSettings {
  /** Base URL, e.g. https://issuer.internal:8443 */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token: Credential;
  timeoutMs: number;
}

export class HttpCredentialIssuer implements CredentialIssuer {
  constructor(private readonly settings: HttpIssuerSettings) {}

  async issue(request: { id: string; scope?: string }): Promise<{ token: string; issuedAt: string; created: boolean }> {
    const { body, status } = await this.exchange('POST', '/v1/credentials', `issue a credential for ${request.id}`, {
      id: request.id,
      ...(request.scope ? { scope: request.scope } : {}),
    });
    if (typeof body.token !== 'string' || !body.token) {
      throw new RotorError(
        'ProviderError',
        `the issuer at ${this.settings.url} answered the issue of ${request.id} without a token; see docs/issuer-protocol.md`,
      );
    }
    return { token: body.token, issuedAt: String(body.issuedAt ?? ''), created: status === 201 };
  }

  async revoke(id: string): Promise<IssuedCredential> {
    return credential(await this.call('POST', `/v1/credentials/${encodeURIComponent(id)}/revoke`, `revoke the credential ${id}`));
  }

  async status(id: string): Promise<IssuedCredential> {
    return credential(await this.call('GET', `/v1/credentials/${encodeURIComponent(id)}`, `read the credential ${id}`));
  }

  private async call(method: string, path: string, doing: string, json?: object): Promise<Record<string, unknown>> {
    return (await this.exchange(method, path, doing, json)).body;
  }

  private async exchange(method: string, path: string, doing: string, json?: object): Promise<{ body: Record<string, unknown>; status: number }> {
    const where = `the issuer at ${this.settings.url}`;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.settings.url), {
        method,
        headers: {
          Authorization: `Bearer ${reveal(this.settings.token)}`,
          Accept: 'application/json',
          ...(json ? { 'Content-Type': 'application/json' } : {}),
        },
        body: json ? JSON.stringify(json) : undefined,
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      if (e.name === 'TimeoutError') throw new RotorError('Unavailable', `${where} did not answer within ${this.settings.timeoutMs / 1000} s to ${doing}`);
      throw new RotorError('Unavailable', `cannot reach ${where} to ${doing} (${e.cause?.code ?? e.message})`);
    }
    let body: Record<string, unknown> = {};
    try {
      body = (await response.json()) as Record<string, unknown>;
    } catch {
      /* judged by the status below */
    }
    if (response.ok) return { body, status: response.status };
    // Only the protocol's `error` field is repeated, never the body: a body might hold a credential.
    const said = typeof body.error === 'string' ? `: ${body.error.slice(0, 300)}` : '';
    const [type, hint]: [RotorErrorType, string] =
      response.status === 401 || response.status === 403
        ? ['Forbidden', '; check ROTOR_ISSUER_TOKEN on the worker']
        : response.status === 404
          ? ['NotFound', '']
          : response.status === 409
            ? ['Conflict', '']
            : response.status >= 500
              ? ['Unavailable', '; it is retried']
              : ['RotorInputError', '; see docs/issuer-protocol.md'];
    throw new RotorError(type, `${where} refused to ${doing} (HTTP ${response.status})${said}${hint}`, doing, response.status);
  }
}

function credential(body: Record<string, unknown>): IssuedCredential {
  return {
    id: String(body.id),
    state: body.state === 'revoked' ? 'revoked' : 'active',
    issuedAt: String(body.issuedAt ?? ''),
    revokedAt: typeof body.revokedAt === 'string' ? body.revokedAt : null,
  };
}
