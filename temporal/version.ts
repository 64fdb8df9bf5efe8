// rotor's version, in a module that loads nothing else: `rotor --version` answers without Temporal's packages.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** rotor's version, from its package.json (dist/temporal/version.js sits two levels below it). */
export function rotorVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
