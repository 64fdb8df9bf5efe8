// The leak check's evidence files, light enough to preload into every test process
// (record-errors.ts): one set per test process under .rotor/leak/, see leak.ts.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `.rotor/leak/` of the clone, or ROTOR_LEAK_DIR (test/leak-check.test.ts plants leaks elsewhere). */
export const LEAK_DIR = process.env.ROTOR_LEAK_DIR || join(__dirname, '..', '..', '..', '.rotor', 'leak');

/** Sources of secret values still to be read (the worlds of workflow tests change until their end). */
const sources: (() => Iterable<string>)[] = [];
const values = new Set<string>();

export function evidenceFile(kind: string, ext: string): string {
  mkdirSync(LEAK_DIR, { recursive: true });
  return join(LEAK_DIR, `${kind}-${process.pid}.${ext}`);
}

/** Secret values this process's tests used; written at once (a test process may end abruptly). */
export function recordValues(found: Iterable<string>): void {
  for (const v of found) if (typeof v === 'string' && v.length > 0) values.add(v);
  writeFileSync(evidenceFile('values', 'json'), JSON.stringify([...values]));
}

/** A world whose secret values are read when the evidence is written (e.g. a memory cluster). */
export function recordValuesFrom(source: () => Iterable<string>): void {
  sources.push(source);
}

/** Reads the worlds given to recordValuesFrom now. */
export function flushSources(): void {
  recordValues(sources.flatMap((s) => [...s()]));
}

/** Output a secret must not reach: a worker's log, a CLI's stdout and stderr, an error's message. */
export function recordText(what: string, text: string): void {
  appendFileSync(evidenceFile('text', 'log'), `\n===== ${what}\n${text}\n`);
}
