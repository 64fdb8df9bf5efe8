// CPU time and memory of a process and its descendants, read from /proc (Linux): what the benches
// report of the workers, the Temporal server and PostgreSQL.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function stat(pid: number): { ppid: number; cpuSeconds: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (2nd field) may hold spaces: the fields after it are counted from its closing paren.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND };
  } catch {
    return null; // gone
  }
}

/** `pid` and every process descending from it. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (!s) continue;
    const siblings = parents.get(s.ppid) ?? [];
    siblings.push(Number(entry));
    parents.set(s.ppid, siblings);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(parents.get(p) ?? []));
  }
  return out;
}

/** CPU seconds (user + system) used so far by `pid` and its descendants. */
export function cpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + (stat(p)?.cpuSeconds ?? 0), 0);
}

/** A process's resident memory now and at its peak (VmRSS, VmHWM), in MiB; null when it is gone. */
export function memoryMiB(pid: number): { rss: number; peak: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}
