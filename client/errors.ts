// The CLI's own errors, in a module that loads nothing: `rotor` tells them apart (exit codes 1 and 2,
// rotor's own words) without loading the Temporal client or the plan schema (rotor-client.ts and
// plan-file.ts re-export them).
import type { PlanIssue } from '../domain/plan';

/** What the client could not do, and what to do about it. */
export class RotorClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotorClientError';
  }
}

/** A plan file that cannot be read or is not a valid plan: nothing was started. */
export class PlanFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly issues: PlanIssue[] = [],
  ) {
    super(message);
    this.name = 'PlanFileError';
  }
}
