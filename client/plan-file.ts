// Reading a plan file: YAML syntax errors with their line, then every plan issue at once.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { formatIssues, validatePlan, type Plan, type PlanIssue } from '../workflows/plan';

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
  // A value file is read by the worker: hand it an absolute path, relative to the plan file.
  const value = document?.value as Record<string, unknown> | undefined;
  if (value && typeof value.fromFile === 'string' && !isAbsolute(value.fromFile)) {
    document.value = { ...value, fromFile: resolve(dirname(file), value.fromFile) };
  }
  const { plan, issues } = validatePlan(document);
  if (issues.length) {
    throw new PlanFileError(file, `${file} has ${issues.length} error${issues.length === 1 ? '' : 's'}; nothing was started:\n${formatIssues(issues)}`, issues);
  }
  return { document, plan };
}
