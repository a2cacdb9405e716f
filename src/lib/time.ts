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
