// Reading a plan file: YAML syntax errors with their line, then every plan issue at once.
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { parseDocument } from 'yaml';
import { formatIssues, validatePlan, type Plan, type PlanIssue } from '../domain/plan';

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

export function loadPlanFile(file: string): LoadedPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PlanFileError(file, `cannot read plan file ${file} (${(err as NodeJS.ErrnoException).code}); pass an existing file with -f plan.yaml`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw new PlanFileError(file, `${file} is not valid YAML:\n${doc.errors.map((e) => `  - ${e.message.split('\n')[0]}`).join('\n')}`);
  }
  const document = doc.toJS() as Record<string, unknown>;
  const validated = validatePlan(document);
  const { plan } = validated;
  const issues = [...validated.issues, ...valueFileIssues(document)];
  if (issues.length) {
    throw new PlanFileError(file, `${file} has ${issues.length} error${issues.length === 1 ? '' : 's'}; nothing was started:\n${formatIssues(issues)}`, issues);
  }
  return { document, plan };
}
