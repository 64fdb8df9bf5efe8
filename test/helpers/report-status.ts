// A rotation's status as `rotor report` reads it, built by hand: staging switched, its verify check
// failed against a baseline, rotor rolled back by itself. The fast tests of the report builder and the
// browser test of the page share it; `hostile` puts markup where an operator's words go.
import { blankStatus, type RotationStatus } from '../../contract/api';
import type { Measurement } from '../../domain/analysis';

/** A value the rotation handled: no report may contain it, raw or base64. */
export const KNOWN_SECRET = 'tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0';

export const HOSTILE = `<script>alert("x")</script><img src="https://evil.example/x.png">`;

const t0 = Date.parse('2026-12-07T10:00:00Z');
const at = (s: number) => new Date(t0 + s * 1000).toISOString();

export function rolledBackStatus(options: { hostile?: boolean } = {}): RotationStatus {
  const reason = options.hostile ? `approved ${HOSTILE}` : 'staging is clean';
  const status = blankStatus({
    workflowId: 'rotate-staging-auth-api-secrets',
    secret: 'auth-api-secrets',
    phase: 'ROLLED_BACK',
    stage: 'staging',
    stages: ['staging', 'production'],
    progress: { step: 5, total: 12, key: 'VERIFYING:staging' },
    planIssues: [],
    startedAt: at(0),
  });
  const m = (s: number, value: number, baseline: number, phase: Measurement['phase']): Measurement => ({ at: at(s), value, baseline, phase });
  const events: [number, RotationStatus['phase'], string | null, string][] = [
    [0, 'PLANNING', null, 'rotation of auth-api-secrets requested by demo'],
    [2, 'CREATING', null, 'creating the new version of auth-api-secrets'],
    [5, 'DEPLOYING', 'staging', 'switching 1 workload(s) in staging (rolling)'],
    [6, 'DEPLOYING', 'staging', 'switched 1 workload(s), 1 reference(s), in staging to auth-api-secrets-20261207100002'],
    [12, 'DEPLOYING', 'staging', 'rollout ready in staging: 2/2 replicas'],
    [12, 'VERIFYING', 'staging', 'verifying for 30s'],
    [
      33,
      'VERIFYING',
      'staging',
      `verify check in staging: failed — 2 consecutive failed measurement(s); last: 0.4 is above the threshold 0.05 ${options.hostile ? HOSTILE : ''}`,
    ],
    [33, 'ROLLING_BACK', 'staging', 'rolling back: the verify check failed in staging'],
    [40, 'ROLLED_BACK', 'staging', 'rolled back; what rotor switched is on its previous version again, and what others changed was kept'],
  ];
  return {
    ...status,
    newVersion: 'auth-api-secrets-20261207100002',
    previousVersion: 'auth-api-secrets-20250101000000',
    previousVersions: { staging: 'auth-api-secrets-20250101000000', production: 'auth-api-secrets-20250101000000' },
    outcome: `rolled back: the verify check failed in staging ${options.hostile ? HOSTILE : ''}`,
    approvals: [{ stage: 'staging', by: 'demo', comment: reason, at: at(4) }],
    checks: [
      {
        stage: 'staging',
        check: 'verify',
        verdict: 'failed',
        reason: '2 consecutive failed measurement(s); last: 0.4 is above the threshold 0.05',
        measurements: 3,
        lastValue: 0.4,
        threshold: 0.05,
        recent: [m(17, 0.01, 0.0, 'successful'), m(24, 0.31, 0.0, 'failed'), m(31, 0.4, 0.01, 'failed')],
        startedAt: at(12),
        endedAt: at(33),
      },
    ],
    holders: [
      { kind: 'CronJob', namespace: 'staging', name: options.hostile ? HOSTILE : 'nightly-report', fields: ['containers[job].envFrom[0].secretRef.name'] },
    ],
    events: events.map(([s, phase, stage, message]) => ({ at: at(s), phase, stage, message })),
    eventCount: events.length,
    updatedAt: at(40),
  };
}
