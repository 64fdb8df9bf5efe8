// The worker's secret settings, each from its variable or, as containers mount them, from a file named
// by `<NAME>_FILE` (a Kubernetes Secret volume, a Docker secret). A file is checked at start like the
// codec's keys file (there, readable, not readable by every user, not empty) and read again whenever it
// changes (its inode, size or modification time), so a credential rotated on disk, as kubelet does for
// a mounted Secret, takes effect at the next call. Never echoes a value.
import { readPrivateFile, whenChanged } from '../temporal/private-file';
import type { Credential } from '../activities/credentials';

/** Whether the setting is given, by value or by file. */
export function isSet(env: NodeJS.ProcessEnv, name: string): boolean {
  return !!env[name] || !!env[`${name}_FILE`];
}

/** What is wrong with a credential file now, or its content. */
function readCredentialFile(name: string, path: string): { value: string } | { problem: string } {
  const fix = `point ${name}_FILE at a file holding only the credential (chmod 600), or set ${name} instead`;
  const file = readPrivateFile(path);
  if ('problem' in file) {
    const open = file.problem.startsWith('is readable by every user');
    return { problem: `${name}_FILE=${path} ${file.problem}; ${open ? 'make it private with chmod 600, or mount the Secret with defaultMode 0400' : fix}` };
  }
  const value = file.content.replace(/\r?\n$/, '');
  if (value.trim() === '') return { problem: `${name}_FILE=${path} is empty; ${fix}` };
  return { value };
}

/**
 * The credential `name` names: its value, or a reader of the file `<name>_FILE` names; undefined when
 * neither is set. Problems (both set, a file that cannot be used) go to `problems`, by variable.
 */
export function credentialSetting(env: NodeJS.ProcessEnv, name: string, problems: string[]): Credential | undefined {
  const value = env[name];
  const path = env[`${name}_FILE`];
  if (value && path) {
    problems.push(`set ${name} or ${name}_FILE, not both (the file is read again when it changes; prefer it for a mounted Secret)`);
    return undefined;
  }
  if (!path) return value || undefined;
  const first = readCredentialFile(name, path);
  if ('problem' in first) {
    problems.push(first.problem);
    return undefined;
  }
  let current = first.value;
  const changed = whenChanged(path, () => {
    const read = readCredentialFile(name, path);
    // A file gone or unusable now fails the call that needs it, saying why; the last value is not used.
    if ('problem' in read) throw new Error(`the worker's credential: ${read.problem}`);
    return read.value;
  });
  return () => (current = changed() ?? current);
}
