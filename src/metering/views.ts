/**
 * Metering's API views and the mappers from raw rows to them: meters (`MeterDto`), listed events
 * (`IngestedEventDto`, with `validation_errors`) and meter-query rows. No I/O.
 * Meters' own instants (`created_at`, `updated_at`, `deleted_at`) are formatted by `lib/time` (UTC,
 * milliseconds) like every resource's; `events_from` and event times are user data and keep the
 * microseconds they were sent with (`normalizeTs`).
 */
import { instant, optionalInstant } from '../lib/time';
import { RawJson } from '../lib/raw-json';
import type { Aggregation } from './entities';
import { normalizeTs, tsSql } from './time';
import { VALUE_MAX_SCALE, type ValueProblem } from './values';

// ---------------------------------------------------------------------------------------------------
// Meters

export interface MeterDto {
  id: string;
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  aggregation: Aggregation;
  event_type: string;
  value_property?: string;
  dimensions?: Record<string, string>;
  events_from?: string;
  created_at: string;
  updated_at: string;
  deleted_at?: string;
}

/** A `meters` row as `METER_COLS` selects it (timestamps as RFC 3339 text with microseconds). */
export interface MeterRow {
  id: string;
  key: string;
  name: string;
  description: string | null;
  labels: Record<string, string> | null;
  aggregation: Aggregation;
  event_type: string;
  value_property: string | null;
  dimensions: Record<string, string> | null;
  events_from: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

/** The select list of a `MeterRow` (from `meters`, unaliased). */
export const METER_COLS = `id, key, name, description, labels, aggregation, event_type, value_property, dimensions,
  ${tsSql('events_from')} as events_from, ${tsSql('created_at')} as created_at,
  ${tsSql('updated_at')} as updated_at, ${tsSql('deleted_at')} as deleted_at`;

export function meterView(r: MeterRow): MeterDto {
  const deletedAt = optionalInstant(r.deleted_at);
  return {
    id: r.id,
    key: r.key,
    name: r.name,
    ...(r.description !== null ? { description: r.description } : {}),
    ...(r.labels !== null ? { labels: r.labels } : {}),
    aggregation: r.aggregation,
    event_type: r.event_type,
    ...(r.value_property !== null ? { value_property: r.value_property } : {}),
    dimensions: r.dimensions ?? {},
    ...(r.events_from !== null ? { events_from: normalizeTs(r.events_from) } : {}),
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
    ...(deletedAt !== undefined ? { deleted_at: deletedAt } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Events

export interface IngestedEventDto {
  event: {
    id: string;
    source: string;
    specversion: string;
    type: string;
    subject: string;
    time: string;
    datacontenttype?: string;
    dataschema?: string;
    /** the stored JSON text, numbers exactly as ingested (see `stringifyWithRaw`) */
    data: RawJson | null;
  };
  customer?: { id: string };
  ingested_at: string;
  stored_at: string;
  /** present when the event's value is not usable by a live meter of its type (see `eventValidationErrors`) */
  validation_errors?: EventValidationError[];
}

/** As OpenMeter's `MeteringIngestedEventValidationError`. */
export interface EventValidationError {
  code: ValueProblem;
  message: string;
  attributes: { meter_id: string; meter_key: string; value_property: string };
}

/** A listed `events` row (timestamps as RFC 3339 text with microseconds, `data` as JSON text). */
export interface EventRow {
  source: string;
  id: string;
  type: string;
  subject: string;
  time: string;
  data: string | null;
  specversion: string;
  datacontenttype: string | null;
  dataschema: string | null;
  ingested_at: string;
  stored_at: string;
  customer_id: string | null;
}

/** Event times are user data: printed to the microsecond they carry (milliseconds when that is exact). */
export function eventView(r: EventRow, problems: EventValidationError[]): IngestedEventDto {
  return {
    event: {
      id: r.id,
      source: r.source,
      specversion: r.specversion,
      type: r.type,
      subject: r.subject,
      time: normalizeTs(r.time),
      ...(r.datacontenttype !== null ? { datacontenttype: r.datacontenttype } : {}),
      ...(r.dataschema !== null ? { dataschema: r.dataschema } : {}),
      data: r.data === null ? null : new RawJson(r.data),
    },
    ...(r.customer_id !== null ? { customer: { id: r.customer_id } } : {}),
    ingested_at: normalizeTs(r.ingested_at),
    stored_at: normalizeTs(r.stored_at),
    ...(problems.length ? { validation_errors: problems } : {}),
  };
}

const PROBLEM_TEXT: Record<ValueProblem, string> = {
  missing_value: 'is missing or null',
  not_a_number: 'is not a number (a JSON number or a string spelling a decimal number)',
  out_of_range: `is out of range (the absolute value must be below 10^18, with at most ${VALUE_MAX_SCALE} digits after the point)`,
};

/** One `validation_errors` item: the meter whose value rule the event's value fails, and why. */
export function validationErrorView(
  m: { id: string; key: string; value_property: string },
  code: ValueProblem,
): EventValidationError {
  return {
    code,
    message: `meter ${m.key}: the value at ${m.value_property} ${PROBLEM_TEXT[code]}`,
    attributes: { meter_id: m.id, meter_key: m.key, value_property: m.value_property },
  };
}

// ---------------------------------------------------------------------------------------------------
// Meter queries

export interface MeterQueryRow {
  value: string;
  from: string;
  to: string;
  dimensions: Record<string, string | null>;
}

/** A row of `buildMeterQuery` (`value`, `from`, `to`, `g0`…) as the API shows it. */
export function queryRowView(r: Record<string, string | null>, groupBy: readonly string[]): MeterQueryRow {
  return {
    value: r.value ?? '0',
    from: normalizeTs(r.from ?? ''),
    to: normalizeTs(r.to ?? ''),
    dimensions: Object.fromEntries(groupBy.map((g, i) => [g, r[`g${i}`] ?? null])),
  };
}
