/** RFC 3339 timestamps as the API accepts them, and the SQL that prints them back. */

import type { Sql } from '../db/sql';

export { isRfc3339 } from '../lib/time';

/** SQL printing a timestamptz column as RFC 3339 UTC with microseconds (see `normalizeTs`). */
export const tsSql = (col: string): string =>
  `to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * Adds a meter query row's `"from"` and `"to"` columns: the bucket `b` (local time in `tz`) clipped to the
 * query's bounds; without buckets, the bounds, or `firstTime` (the earliest counted event) and now().
 */
export function addRowBounds(
  q: Sql,
  p: { unit?: string; tz: string; from?: string; to?: string },
  firstTime: string,
): void {
  if (p.unit) {
    const start = `b at time zone ?`;
    const end = `(b + interval '1 ${p.unit}') at time zone ?`;
    if (p.from !== undefined)
      q.add(`, ${tsSql(`greatest(${start}, ?::timestamptz)`)} as "from"`, p.tz, p.from);
    else q.add(`, ${tsSql(start)} as "from"`, p.tz);
    if (p.to !== undefined) q.add(`, ${tsSql(`least(${end}, ?::timestamptz)`)} as "to"`, p.tz, p.to);
    else q.add(`, ${tsSql(end)} as "to"`, p.tz);
  } else {
    if (p.from !== undefined) q.add(`, ${tsSql('?::timestamptz')} as "from"`, p.from);
    else q.add(`, ${tsSql(firstTime)} as "from"`);
    if (p.to !== undefined) q.add(`, ${tsSql('?::timestamptz')} as "to"`, p.to);
    else q.add(`, ${tsSql('now()')} as "to"`);
  }
}

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

/** Earliest event time accepted (inclusive). */
export const EVENT_TIME_MIN = '1970-01-01T00:00:00Z';
/** Latest event time accepted (inclusive), once rounded to the microsecond as PostgreSQL stores it. */
export const EVENT_TIME_MAX = '9999-12-31T23:59:59.999999Z';

const MIN_US = BigInt(Date.parse(EVENT_TIME_MIN)) * 1000n;
const MAX_US = BigInt(Date.parse('9999-12-31T23:59:59Z')) * 1000n + 999999n;

/**
 * Why an RFC 3339 time (already `isRfc3339`) is outside [EVENT_TIME_MIN, EVENT_TIME_MAX], or undefined.
 * PostgreSQL keeps microseconds and rounds the rest half to even (9999-12-31T23:59:59.9999995Z would be
 * year 10000), so the check is on the rounded instant. Only years near the bounds need the exact check.
 */
export function eventTimeProblem(s: string): string | undefined {
  const year = +s.slice(0, 4);
  if (year > 1970 && year < 9999) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(s)!;
  const frac = m[2] ?? '';
  let us = BigInt(frac.slice(0, 6).padEnd(6, '0'));
  // the digits past the microsecond, as a fraction of one: above one half rounds up, exactly one half to even
  const rest = frac.slice(6);
  const half =
    rest === '' ? -1 : rest[0] !== '5' ? Math.sign(+rest[0] - 5) : /[1-9]/.test(rest.slice(1)) ? 1 : 0;
  if (half > 0 || (half === 0 && us % 2n === 1n)) us += 1n;
  const whole = Date.parse(`${m[1]}${m[3].toUpperCase()}`);
  const t = BigInt(whole) * 1000n + us;
  if (t < MIN_US || t > MAX_US)
    return `must be between ${EVENT_TIME_MIN} and ${EVENT_TIME_MAX} (stored to the microsecond)`;
  return undefined;
}
