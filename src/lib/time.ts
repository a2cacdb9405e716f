/**
 * The one formatter for a resource's instants (`created_at`, `updated_at`, `deleted_at`, `active_from`, …):
 * RFC 3339 in UTC with milliseconds, as `Date#toISOString` prints them (`2026-01-01T00:00:00.123Z`).
 * Every API view uses it, whatever the column's precision, so that two resources never disagree.
 * Event times are user data and keep the microseconds they were sent with (see `metering/time.ts`).
 */
export function instant(v: Date | string | number): string {
  return (v instanceof Date ? v : new Date(v)).toISOString();
}

/** As `instant`, for optional columns: null and undefined give undefined. */
export function optionalInstant(v: Date | string | number | null | undefined): string | undefined {
  return v == null ? undefined : instant(v);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * True for a full RFC 3339 date-time with a real calendar date (2026-02-30 is rejected) and an offset of at
 * most ±15:59.
 */
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
  // offsets beyond ±15:59 are refused: PostgreSQL cannot read them (real offsets span −12:00 to +14:00)
  if (m[9] !== undefined && (+m[9] > 15 || +m[10] > 59)) return false;
  return true;
}
