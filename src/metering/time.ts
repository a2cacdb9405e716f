/** RFC 3339 timestamps as the API accepts them, and the SQL that prints them back. */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** True for a full RFC 3339 date-time with a real calendar date (2026-02-30 is rejected) and an offset. */
export function isRfc3339(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = RFC3339.exec(s);
  if (!m) return false;
  const y = +m[1];
  const mo = +m[2];
  const d = +m[3];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || +m[4] > 23 || +m[5] > 59 || +m[6] > 59) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1])) return false;
  if (m[9] !== undefined && (+m[9] > 23 || +m[10] > 59)) return false;
  return true;
}

/** SQL printing a timestamptz column as RFC 3339 UTC with microseconds (see `normalizeTs`). */
export const tsSql = (col: string): string =>
  `to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** `2026-01-01T00:00:00.123000Z` → `2026-01-01T00:00:00.123Z` (as Date#toISOString); keeps real microseconds. */
export const normalizeTs = (s: string): string => s.replace(/\.(\d{3})000Z$/, '.$1Z');

/** Whether PostgreSQL and the JS runtime both know this IANA zone name. */
export function isTimeZone(tz: string): boolean {
  if (!/^[A-Za-z0-9_+\-/]{1,64}$/.test(tz)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
