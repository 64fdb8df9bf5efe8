// kubectl's output habits: JSON or YAML for `-o json|yaml` (the options are output-format.ts'), tables
// with a header row, and ages as kubectl prints them.
import { stringify } from 'yaml';

/** `value` as JSON (indented, or one line per value when `compact`, for a stream) or as a YAML document. */
export function structured(value: unknown, format: 'json' | 'yaml', compact = false): string {
  if (format === 'json') return compact ? JSON.stringify(value) : JSON.stringify(value, null, 2);
  return `${compact ? '---\n' : ''}${stringify(value).trimEnd()}`;
}

/** Columns as kubectl prints them: a header row, each column as wide as its widest cell, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

/** How long ago, as kubectl's AGE column: 45s, 5m, 3h, 2d. */
export function age(from: Date | string | null, now = new Date()): string {
  if (!from) return '-';
  const at = typeof from === 'string' ? Date.parse(from) : from.getTime();
  if (Number.isNaN(at)) return '-';
  const s = Math.max(0, Math.floor((now.getTime() - at) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
