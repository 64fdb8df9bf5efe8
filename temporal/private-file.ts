// A file that holds a secret (the codec's keys, a credential the worker sends): read only if it is
// there, readable, and not readable by every user. Readable by its owner and group is fine (a mounted
// Secret with fsGroup). The caller words the problem with its own variable and fix.
import { readFileSync, statSync } from 'node:fs';

export type PrivateFile = { content: string } | { problem: string };

export function readPrivateFile(path: string): PrivateFile {
  let mode: number;
  let content: string;
  try {
    mode = statSync(path).mode;
    content = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      problem: code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : `cannot be read (${code ?? (err as Error).message})`,
    };
  }
  if (mode & 0o004) return { problem: `is readable by every user (mode ${(mode & 0o777).toString(8)})` };
  return { content };
}

/** What changes when the file does (kubelet swaps a mounted Secret's file, so its inode changes). */
function fileFingerprint(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * `read()` again whenever the file at `path` has changed since the last call (or since this was
 * made), else null: how the worker follows a credential or key file rotated on disk. A `read` that
 * throws leaves the change unseen, so the next call tries again.
 */
export function whenChanged<T>(path: string, read: () => T): () => T | null {
  let seen = fileFingerprint(path);
  return () => {
    const now = fileFingerprint(path);
    if (now === seen) return null;
    const value = read();
    seen = now;
    return value;
  };
}
