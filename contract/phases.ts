// A rotation's phases, in a module of their own that loads nothing: the CLI's definitions (`--phase`,
// completion) need them before, or without, any Temporal package (contract/api.ts re-exports them).

export const PHASES = [
  'PLANNING',
  'CREATING',
  'DEPLOYING',
  'VERIFYING',
  'SOAKING',
  'AWAITING_APPROVAL',
  'WATCHING',
  'RETAINING',
  'CLEANING_UP',
  'COMPLETED',
  'ROLLING_BACK',
  'ROLLED_BACK',
  'FAILED',
] as const;
export type Phase = (typeof PHASES)[number];

export const TERMINAL_PHASES: readonly Phase[] = ['COMPLETED', 'ROLLED_BACK', 'FAILED'];
