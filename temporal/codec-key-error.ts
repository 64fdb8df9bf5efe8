// The error of unusable codec keys, in a module that loads nothing: the CLI knows it (exit code 2) without
// loading the codec and Temporal's protobufs (temporal/codec.ts re-exports it).

/** A codec key setting that cannot be used; the message names the variable (and line), never key bytes. */
export class CodecKeyError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'CodecKeyError';
  }
}
