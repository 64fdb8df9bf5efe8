// The error of a Temporal server that does not answer, in a module that loads nothing: the CLI knows it
// (exit code 1, rotor's own words) without loading the Temporal client (temporal/settings.ts re-exports it).

/** The server at TEMPORAL_ADDRESS did not answer: what happened, and how to get one. */
export class TemporalUnreachableError extends Error {
  /** Why, in a few words: "Connection refused", "Failed to connect before the deadline". */
  readonly reason: string;

  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    const reason = connectFailure(cause);
    super(
      `cannot reach the Temporal server at ${address} (${reason}).\n` +
        "Start a local one with `npm run dev-server` in rotor's clone (Temporal's dev server with rotor's search attributes), or set TEMPORAL_ADDRESS to your server's host:port.",
      { cause },
    );
    this.reason = reason;
    this.name = 'TemporalUnreachableError';
  }
}

/** Why a connection failed, in a few words: the client's own message, or the innermost one of a Rust transport error's dump. */
function connectFailure(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  const message = e?.message ?? String(err);
  // tonic::transport::Error(Transport, ConnectError(ConnectError("tcp connect error", ..., Os { ..., message: "Connection refused" })))
  const quoted = [...message.matchAll(/(?:message|error): "([^"]+)"/g)].at(-1)?.[1] ?? /ConnectError\("([^"]+)"/.exec(message)?.[1];
  return (quoted ?? message.split('\n')[0]).slice(0, 200);
}
