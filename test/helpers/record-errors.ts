// Preloaded into every test process by scripts/run-tests.mjs (`--require`): every error a test
// provokes and checks with assert.rejects or assert.throws is recorded as leak-check evidence (its
// message, its causes' and the object a RotorError names), so a secret value in an error message
// fails the build even where the test itself does not look for one.
import assert from 'node:assert';
import { recordText } from './leak-evidence';

function describe(err: unknown): string {
  const parts: string[] = [];
  let at: unknown = err;
  for (let depth = 0; at && depth < 5; depth++) {
    const e = at as { name?: string; message?: unknown; object?: unknown; cause?: unknown };
    parts.push(`${e.name ?? 'Error'}: ${String(e.message ?? at)}${typeof e.object === 'string' ? ` [${e.object}]` : ''}`);
    at = e.cause;
  }
  return parts.join('\n  caused by ');
}

function keep(err: unknown): void {
  recordText('an error a test provoked', describe(err));
}

type Rejects = typeof assert.rejects;
type Throws = typeof assert.throws;

for (const target of [assert, assert.strict]) {
  const rejects = target.rejects.bind(target) as (...args: unknown[]) => Promise<void>;
  const throws = target.throws.bind(target) as (...args: unknown[]) => void;
  target.rejects = ((block: unknown, ...rest: unknown[]) => {
    const watched =
      typeof block === 'function'
        ? async () => {
            try {
              return await (block as () => Promise<unknown>)();
            } catch (err) {
              keep(err);
              throw err;
            }
          }
        : Promise.resolve(block).catch((err: unknown) => {
            keep(err);
            throw err;
          });
    return rejects(watched, ...rest);
  }) as Rejects;
  target.throws = ((block: () => unknown, ...rest: unknown[]) =>
    throws(
      () => {
        try {
          return block();
        } catch (err) {
          keep(err);
          throw err;
        }
      },
      ...rest,
    )) as Throws;
}
