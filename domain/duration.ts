// Durations in plans: `30s`, `10m`, `24h`, `14d`, or combinations such as `1h30m`. Pure, deterministic.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+)(ms|s|m|h|d)/g;
const WHOLE = /^(\d+(ms|s|m|h|d))+$/;

export const DURATION_HELP = 'a duration such as 30s, 10m, 24h, 14d or 1h30m';

/** Milliseconds of a duration string, or an error sentence saying what is wrong. */
export function parseDuration(text: unknown): { ms: number } | { error: string } {
  if (typeof text === 'number') {
    return { error: `a bare number has no unit; write ${DURATION_HELP}` };
  }
  if (typeof text !== 'string' || text.trim() === '') {
    return { error: `expected ${DURATION_HELP}` };
  }
  const value = text.trim();
  if (value.startsWith('-')) return { error: `must not be negative; write ${DURATION_HELP}` };
  if (!WHOLE.test(value)) return { error: `cannot parse; write ${DURATION_HELP}` };
  let ms = 0;
  for (const match of value.matchAll(PART)) ms += Number(match[1]) * UNIT_MS[match[2]];
  if (!Number.isSafeInteger(ms)) return { error: 'is too large' };
  return { ms };
}

/** The shortest exact rendering of a duration, e.g. 90000 -> "1m30s", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms']) {
    const size = UNIT_MS[unit];
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}
