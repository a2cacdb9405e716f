/**
 * The value rule: ONE definition, in SQL, used by every aggregation (meter query, aggregateUsage,
 * entitlement usage) and by the `validation_errors` of GET /events. A meter value is a JSON number or a
 * string spelling a decimal, with |v| < 10^18 and at most 18 digits after the point; anything else counts
 * nowhere. Pure SQL text builders, no I/O.
 */
import type { Aggregation } from './entities';

/** Largest magnitude of a meter value (exclusive): |v| < 10^18. */
export const VALUE_MAX_ABS = '1e18';
/** Most digits after the decimal point a meter value may need (trailing zeros do not count). */
export const VALUE_MAX_SCALE = 18;

/** The same shape without the bounds: a string that only matches this spells a number out of range. */
const DECIMAL_STRING_RE = `'^[-+]{0,1}([0-9]+([.][0-9]*){0,1}|[.][0-9]+)([eE][-+]{0,1}[0-9]+){0,1}$'`;

/**
 * A string counts as a number when it spells a decimal: optional sign, at most 100 digits before and 100
 * after the point, optional exponent of at most 4 digits. These bounds make the cast to numeric total:
 * the largest such number has about 10^4 digits and the smallest about 10^4 decimals, both well inside
 * numeric's limits (131,072 digits before the point, 16,383 after), so no string can make it overflow.
 */
const NUMBER_STRING_RE = `'^[-+]{0,1}([0-9]{1,100}([.][0-9]{0,100}){0,1}|[.][0-9]{1,100})([eE][-+]{0,1}[0-9]{1,4}){0,1}$'`;

/**
 * SQL for the value as numeric, or NULL when it is not a number: a JSON number (jsonb already holds it as
 * numeric, exactly) or a string accepted by NUMBER_STRING_RE. Never raises, whatever `vj` (jsonb) holds.
 */
export function rawValueSql(vj: string): string {
  return (
    `(case jsonb_typeof(${vj}) when 'number' then (${vj})::numeric` +
    ` when 'string' then case when (${vj} #>> '{}') ~ ${NUMBER_STRING_RE} then (${vj} #>> '{}')::numeric end end)`
  );
}

/** SQL: whether the numeric `vr` (non-null) is within the documented range. */
export function inRangeSql(vr: string): string {
  return `(abs(${vr}) < ${VALUE_MAX_ABS} and min_scale(${vr}) <= ${VALUE_MAX_SCALE})`;
}

/** Codes of `validation_errors` items (GET /events) for a meter value. */
export type ValueProblem = 'missing_value' | 'not_a_number' | 'out_of_range';

/**
 * SQL giving the value problem of an event for a meter of `agg`, or NULL when the value counts; `vj` is
 * the jsonb at the meter's value_property (NULL when absent). count meters read no value; unique_count
 * takes any non-null value; the others need a number within range.
 */
export function valueProblemSql(agg: Aggregation, vj: string): string {
  if (agg === 'count') return 'null::text';
  const missing = `${vj} is null or jsonb_typeof(${vj}) = 'null'`;
  if (agg === 'unique_count') return `(case when ${missing} then 'missing_value' end)`;
  const vr = rawValueSql(vj);
  return (
    `(case when ${missing} then 'missing_value'` +
    ` when ${vr} is null then case when jsonb_typeof(${vj}) = 'string' and (${vj} #>> '{}') ~ ${DECIMAL_STRING_RE}` +
    ` then 'out_of_range' else 'not_a_number' end` +
    ` when not ${inRangeSql(vr)} then 'out_of_range' end)`
  );
}

/**
 * Billing and entitlements never use a negative usage quantity: meter queries show the exact aggregate
 * (negative values are corrections, and a period's sum, min, avg or latest may be negative), but an
 * invoice line or an entitlement balance takes max(0, usage).
 */
export function billableUsage(value: string): string {
  return value.startsWith('-') ? '0' : value;
}
