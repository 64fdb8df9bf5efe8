// Reading a plan file: YAML syntax errors with their line, then every plan issue at once.
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { parseDocument } from 'yaml';
import { formatIssues, validatePlan, type Plan, type PlanIssue } from '../domain/plan';
import { PlanFileError } from './errors';

export { PlanFileError } from './errors';

export interface LoadedPlan {
  /** The document as written (what the workflow receives and validates again). */
  document: Record<string, unknown>;
  plan: Plan;
}

/**
 * `value.fromFile` is read by the worker, inside its ROTOR_VALUE_DIR, and sent as written. Refused
 * here too (the worker refuses it anyway) so a plan that cannot work fails before anything starts.
 * Not in validatePlan: the workflow validates again, and plans already running kept absolute paths.
 */
function valueFileIssues(document: Record<string, unknown> | null): PlanIssue[] {
  const value = document?.value as Record<string, unknown> | undefined;
  const path = value?.fromFile;
  if (typeof path !== 'string') return [];
  const found = JSON.stringify(path);
  if (isAbsolute(path)) {
    return [
      {
        path: 'value.fromFile',
        value: found,
        message: "must be relative to the worker's value directory (ROTOR_VALUE_DIR), e.g. token.env; the worker reads no file outside it",
      },
    ];
  }
  if (path.split(/[\\/]/).includes('..')) {
    return [
      {
        path: 'value.fromFile',
        value: found,
        message: 'must stay inside the worker\'s value directory (ROTOR_VALUE_DIR): no ".."; write e.g. token.env or team/token.env',
      },
    ];
  }
  return [];
}

/** What a plan is, for a file that is not one. */
const A_PLAN = 'a plan is a YAML mapping with secret, value and stages (examples/plan.yaml; `rotor schema` prints its JSON Schema)';
const PLAN_KEYS = ['secret', 'value', 'stages'];

/** Why a parsed document cannot be a plan at all (not a mapping, or none of a plan's keys), in one line; null when it may be one. */
function notAPlan(document: unknown): string | null {
  if (document === null || document === undefined) return 'it is empty';
  if (Array.isArray(document)) return 'it holds a list';
  if (typeof document !== 'object') return `it holds a ${typeof document}, not a mapping`;
  const keys = Object.keys(document);
  if (keys.some((k) => PLAN_KEYS.includes(k))) return null;
  return `it has none of ${PLAN_KEYS.join(', ')} (its keys: ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''})`;
}

export function loadPlanFile(file: string): LoadedPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PlanFileError(file, `cannot read plan file ${file} (${(err as NodeJS.ErrnoException).code}); pass an existing file with -f plan.yaml`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    // One line, whatever the file: the first error's first line (long tokens cut), and how many follow.
    const first = doc.errors[0].message
      .split('\n')[0]
      .replace(/:$/, '')
      .replace(/"([^"]{30})[^"]{10,}"/g, '"$1..."');
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : '';
    throw new PlanFileError(file, `${file} is not valid YAML: ${first}${more}; nothing was started; ${A_PLAN}`);
  }
  const document = doc.toJS() as Record<string, unknown>;
  const why = notAPlan(document);
  if (why) throw new PlanFileError(file, `${file} is not a plan: ${why}; nothing was started; ${A_PLAN}`);
  const validated = validatePlan(document);
  const { plan } = validated;
  const issues = [...validated.issues, ...valueFileIssues(document)];
  if (issues.length) {
    throw new PlanFileError(file, `${file} has ${issues.length} error${issues.length === 1 ? '' : 's'}; nothing was started:\n${formatIssues(issues)}`, issues);
  }
  return { document, plan };
}
