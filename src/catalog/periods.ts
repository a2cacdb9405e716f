/**
 * ISO-8601 durations and billing periods, in UTC, with calendar semantics.
 *
 * Pure and deterministic (no imports, no I/O, no clock): billing workflows import this from Temporal
 * workflow code.
 *
 * Calendar rules:
 * - Years and months move the calendar month and keep the day of month, clamped to the month's last day
 *   (Jan 31 + P1M = Feb 28, or Feb 29 in a leap year).
 * - Weeks and days are calendar days (UTC has no DST, so a day is always 24 h).
 * - Hours, minutes and seconds are exact elapsed time.
 * - The components are applied in that order: years/months, then weeks/days, then time.
 * - Period boundaries are computed from the anchor, never by repeated addition: the n-th boundary is
 *   anchor + n × cadence. With a Jan 31 anchor and P1M the boundaries are Jan 31, Feb 28/29, Mar 31, Apr 30…
 * - Periods are half-open: [start, end).
 */

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  /** may be fractional (milliseconds precision) */
  seconds: number;
}

const DURATION_RE =
  /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

const MS_SECOND = 1000;
const MS_MINUTE = 60 * MS_SECOND;
const MS_HOUR = 60 * MS_MINUTE;
const MS_DAY = 24 * MS_HOUR;

/** Parses an ISO-8601 duration (`P1M`, `P1Y2M`, `P2W`, `PT15M`, `P1DT12H`, `PT0.5S`). Throws RangeError when invalid. */
export function parseDuration(iso: string): Duration {
  const m = DURATION_RE.exec(iso);
  if (!m) throw new RangeError(`invalid ISO-8601 duration: ${JSON.stringify(iso)}`);
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  const d: Duration = {
    years: n(m[1]),
    months: n(m[2]),
    weeks: n(m[3]),
    days: n(m[4]),
    hours: n(m[5]),
    minutes: n(m[6]),
    seconds: n(m[7]),
  };
  for (const v of Object.values(d)) {
    if (!Number.isFinite(v) || v > Number.MAX_SAFE_INTEGER)
      throw new RangeError(`ISO-8601 duration out of range: ${iso}`);
  }
  return d;
}

/** True when `iso` is a valid ISO-8601 duration this module understands. */
export function isValidDuration(iso: string): boolean {
  try {
    parseDuration(iso);
    return true;
  } catch {
    return false;
  }
}

/** Exact milliseconds of the time part (H/M/S) of a duration. */
function timeMs(d: Duration): number {
  return d.hours * MS_HOUR + d.minutes * MS_MINUTE + Math.round(d.seconds * MS_SECOND);
}

/**
 * Minimum length of a duration in milliseconds (a month counts as 28 days, a year as 365).
 * Used to validate lower bounds such as "a cadence of at least one minute".
 */
export function minDurationMs(iso: string | Duration): number {
  const d = typeof iso === 'string' ? parseDuration(iso) : iso;
  return (d.years * 365 + d.months * 28 + d.weeks * 7 + d.days) * MS_DAY + timeMs(d);
}

/** Nominal length in milliseconds (month = 30.436875 days, year = 365.2425 days); an estimate only. */
export function nominalDurationMs(iso: string | Duration): number {
  const d = typeof iso === 'string' ? parseDuration(iso) : iso;
  return (d.years * 365.2425 + d.months * 30.436875 + d.weeks * 7 + d.days) * MS_DAY + timeMs(d);
}

function daysInMonth(year: number, month0: number): number {
  return new Date(Date.UTC(year, month0 + 1, 0)).getUTCDate();
}

/**
 * Adds `times` × duration to `date`. `dayOfMonth` is the day the month arithmetic aims for (clamped to
 * the target month's length); it defaults to the date's own day of month.
 */
function addScaled(date: Date, d: Duration, times: number, dayOfMonth?: number): Date {
  let t = date.getTime();
  if (Number.isNaN(t)) throw new RangeError('invalid date');
  const totalMonths = (d.years * 12 + d.months) * times;
  if (totalMonths !== 0 || dayOfMonth !== undefined) {
    const y = date.getUTCFullYear();
    const mIndex = y * 12 + date.getUTCMonth() + totalMonths;
    const ty = Math.floor(mIndex / 12);
    const tm = mIndex - ty * 12;
    const day = Math.min(dayOfMonth ?? date.getUTCDate(), daysInMonth(ty, tm));
    const tod = t - Date.UTC(y, date.getUTCMonth(), date.getUTCDate());
    t = Date.UTC(ty, tm, day) + tod;
    // Date.UTC maps years 0..99 to 1900..1999; fix them explicitly
    if (ty >= 0 && ty < 100) {
      const fixed = new Date(t);
      fixed.setUTCFullYear(ty);
      t = fixed.getTime();
    }
  }
  t += (d.weeks * 7 + d.days) * times * MS_DAY;
  t += timeMs(d) * times;
  const out = new Date(t);
  if (Number.isNaN(out.getTime())) throw new RangeError('date out of range');
  return out;
}

/**
 * `date` + `iso` with calendar semantics. With `anchor`, month arithmetic aims for the anchor's day of month
 * (so Feb 28 + P1M with a Jan 31 anchor is Mar 31, not Mar 28).
 */
export function addDuration(date: Date, iso: string | Duration, anchor?: Date): Date {
  const d = typeof iso === 'string' ? parseDuration(iso) : iso;
  return addScaled(date, d, 1, anchor ? anchor.getUTCDate() : undefined);
}

/** anchor + n × cadence (n may be negative): the start of period n. Boundary 0 is the anchor itself. */
export function nthBoundary(anchor: Date, cadence: string | Duration, n: number): Date {
  if (!Number.isInteger(n)) throw new RangeError(`period index must be an integer, got ${n}`);
  const d = typeof cadence === 'string' ? parseDuration(cadence) : cadence;
  if (minDurationMs(d) <= 0) throw new RangeError('cadence must be a positive duration');
  return addScaled(anchor, d, n);
}

export interface Period {
  /** inclusive */
  start: Date;
  /** exclusive */
  end: Date;
  /** period index relative to the anchor (0 = the period starting at the anchor; negative before it) */
  index: number;
}

/** The period n: [anchor + n×cadence, anchor + (n+1)×cadence). */
export function nthPeriod(anchor: Date, cadence: string | Duration, n: number): Period {
  return { start: nthBoundary(anchor, cadence, n), end: nthBoundary(anchor, cadence, n + 1), index: n };
}

/** The half-open period [start, end) of the anchor-aligned cadence grid that contains `instant`. */
export function periodContaining(anchor: Date, cadence: string | Duration, instant: Date): Period {
  const d = typeof cadence === 'string' ? parseDuration(cadence) : cadence;
  const at = instant.getTime();
  if (Number.isNaN(at)) throw new RangeError('invalid instant');
  let n = Math.floor((at - anchor.getTime()) / nominalDurationMs(d));
  // the estimate is off by at most a few periods: walk to the right one
  while (nthBoundary(anchor, d, n).getTime() > at) n--;
  while (nthBoundary(anchor, d, n + 1).getTime() <= at) n++;
  return nthPeriod(anchor, d, n);
}
