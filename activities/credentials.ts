// A credential the worker holds for a service it calls (a metrics API key, an issuer's token): the
// value itself, or a reader that gives its current value, e.g. a file read again when it changes, so
// a credential rotated on disk is used at the next call without a restart (worker/credentials.ts).
export type Credential = string | (() => string);

/** The credential's value now. */
export function reveal(credential: Credential): string {
  return typeof credential === 'function' ? credential() : credential;
}
