// TEMPORARY (plan-one-source): random raw plans give the same issues (paths, messages, found values,
// order) and, when valid, the same plan from the schema-driven validatePlan as from the hand-written
// validator it replaced (test/plan-legacy). Deleted with the legacy copy before merging.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { validatePlan } from '../domain/plan';
import { validatePlan as legacyValidatePlan } from './plan-legacy/plan';
import { rawPlan } from './plan-properties.test';

const RUNS = Number(process.env.PLAN_EQUIVALENCE_RUNS ?? 3000);

describe('the schema-driven validatePlan and the hand-written one it replaced', () => {
  it(`give the same issues, and the same plan when valid, for ${RUNS} random raw plans`, () => {
    fc.assert(
      fc.property(rawPlan, (raw) => {
        const before = legacyValidatePlan(structuredClone(raw));
        const after = validatePlan(structuredClone(raw));
        try {
          assert.deepEqual(after.issues, before.issues);
          if (!before.issues.length) assert.deepEqual(after.plan, before.plan);
        } catch (err) {
          throw new Error(
            `${JSON.stringify(raw)}\nbefore: ${JSON.stringify(before.issues, null, 1)}\nafter: ${JSON.stringify(after.issues, null, 1)}\n${String(err)}`,
          );
        }
      }),
      { numRuns: RUNS, seed: Number(process.env.PLAN_EQUIVALENCE_SEED ?? 24), includeErrorInReport: true },
    );
  });
});
