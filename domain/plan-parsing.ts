// How the plan's schema (plan-schema.ts) parses where zod's defaults would not do: rules that run
// even where a field failed, unions parsed by the option their input calls for, lists judged whole or
// shown by their length, objects naming their unknown fields. The JSON Schema is zod's, unchanged.
import { z } from 'zod';
import { unknownFieldMessage, type RuleParams } from './plan-issues';

type Payload = z.core.ParsePayload;
type Context = z.core.ParseContextInternal;

/**
 * Changes how zod runs `schema` (its parse and its checks) for every schema that holds it; the schema
 * itself, its shape and its JSON Schema, stay as they are. Set it last: a copy (`.meta()`, `.check()`)
 * runs as zod does.
 */
export function intercept<S extends z.ZodType>(schema: S, run: (payload: Payload, next: (payload: Payload) => Payload, ctx: Context) => Payload): S {
  const next = schema._zod.run;
  // Plans are parsed synchronously: no schema here has an async check.
  schema._zod.run = (payload, ctx) => run(payload, (p) => next(p, ctx) as Payload, ctx);
  return schema;
}

/** A rule's view of the object it refines: report an issue, ask whether a field (a path under it) failed its own checks. */
interface RuleContext {
  report(issue: { path: PropertyKey[]; message: string } & Omit<RuleParams, 'rule'>): void;
  failed(...path: PropertyKey[]): boolean;
}

/** A rule over an object (or a list) as written in the plan. */
export type Rule<T = Record<string, unknown>> = (raw: T, c: RuleContext) => void;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `schema` refined by `rules`, which run on its input as written once it is parsed, whatever its
 * fields made of it: zod runs a refinement only when every field passed, and a plan reports every
 * problem at once. An input that is not the object (or list) at all is reported by the schema alone.
 */
export function withRules<S extends z.ZodType, T extends Record<string, unknown> | unknown[]>(schema: S, ...rules: Rule<T>[]): S {
  return intercept(schema, (payload, next) => {
    const raw = payload.value;
    const out = next(payload);
    if (!(schema._zod.def.type === 'array' ? Array.isArray(raw) : isRecord(raw))) return out;
    const own = [...out.issues];
    const c: RuleContext = {
      report: ({ path, message, ...params }) => out.issues.push({ code: 'custom', path, message, input: undefined, params: { rule: true, ...params } }),
      failed: (...path) => own.some((issue) => path.every((key, i) => issue.path?.[i] === key)),
    };
    for (const rule of rules) rule(raw as T, c);
    return out;
  });
}

/**
 * An object of a plan: `shape`, with `message` for anything but an object, and each unknown field
 * (a typo, almost always) named with the valid ones (`valid`: the shape's, unless said).
 */
export function fields<S extends z.core.$ZodLooseShape>(shape: S, message: string, valid: readonly string[] = Object.keys(shape)) {
  return z.strictObject(shape, { error: (iss) => (iss.code === 'unrecognized_keys' ? unknownFieldMessage(valid) : message) });
}

/** A list judged as a whole: its first issue, reported at the list itself. */
export function whole<S extends z.ZodType>(list: S): S {
  return intercept(list, (payload, next) => {
    const out = next(payload);
    if (out.issues.length) out.issues = [{ ...out.issues[0], path: [] }];
    return out;
  });
}

/** A list over its bound, reported by its length (`101 keys`): the list is too long to show. */
export function counted<S extends z.ZodType>(list: S, noun: string): S {
  return intercept(list, (payload, next) => {
    const out = next(payload);
    for (const issue of out.issues) {
      if (issue.code === 'too_big' && !issue.path?.length && Array.isArray(payload.value)) {
        Object.assign(issue, { params: { found: `${payload.value.length} ${noun}` } });
      }
    }
    return out;
  });
}

/**
 * A union parsed with the one schema its input calls for (`pick`: an option, or what to say
 * otherwise), so a wrong input hears what that option says of it: zod's own union says only that no
 * option fits once a field inside has the wrong type. Published (JSON Schema) as the union.
 */
export function choice<U extends z.ZodUnion>(union: U, pick: (input: unknown) => z.ZodType): U {
  return intercept(union, (payload, _next, ctx) => pick(payload.value)._zod.run(payload, ctx) as z.core.ParsePayload);
}
