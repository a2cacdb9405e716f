/**
 * CloudEvents validation at the edge. Hand-written (not zod) so a 10,000-event batch validates fast and
 * every bad event is reported with its index and field.
 */
import type { InvalidParam } from '../lib/errors';
import { eventTimeProblem, isRfc3339 } from './time';

/** A validated event, as stored. */
export interface IngestEvent {
  id: string;
  source: string;
  specversion: string;
  type: string;
  subject: string;
  /** RFC 3339 (the request's receipt time when the event had none) */
  time: string;
  data: Record<string, unknown> | null;
  datacontenttype: string | null;
  dataschema: string | null;
}

/** id, source, type, subject, datacontenttype, dataschema: at most this many bytes in UTF-8 (index entries). */
export const MAX_STRING = 1024;
/** `data`, serialized as compact JSON: at most this many bytes in UTF-8 (64 KiB). */
export const MAX_DATA_BYTES = 65536;

/** UTF-8 bytes of `s` above `max` (a UTF-16 unit takes at most 3 bytes, so short strings skip the count) */
const tooLong = (s: string, max: number): boolean =>
  s.length > max || (s.length * 3 > max && Buffer.byteLength(s, 'utf8') > max);
const REQUIRED = ['id', 'source', 'type', 'subject'] as const;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

// U+0000 and unpaired UTF-16 surrogates (which PostgreSQL text and jsonb cannot hold) are refused for every
// route at the edge (src/api/hostile.ts), before validation: no string here can hold them.

/** where an event's problems go (module-level helpers: no closures per event on the hot path) */
interface Sink {
  prefix: string;
  index: number | undefined;
  errors: InvalidParam[];
}

function fail(sink: Sink, field: string, reason: string): void {
  sink.errors.push({
    field: field ? `${sink.prefix}.${field}` : sink.prefix,
    reason,
    ...(sink.index !== undefined ? { index: sink.index } : {}),
  });
}

function optString(
  sink: Sink,
  raw: Record<string, unknown>,
  f: 'datacontenttype' | 'dataschema',
): string | null {
  const v = raw[f];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length === 0 || tooLong(v, MAX_STRING)) {
    fail(sink, f, 'must be a non-empty string or null');
    return null;
  }
  return v;
}

const JSON_CONTENT_TYPE = /^application\/([a-z0-9.+-]*\+)?json(\s*;.*)?$/i;

/**
 * Validates one event; pushes problems to `errors` (fields named `${prefix}.<field>`) and returns the
 * normalized event, or undefined when it is invalid.
 */
export function validateEvent(
  raw: unknown,
  prefix: string,
  index: number | undefined,
  now: string,
  errors: InvalidParam[],
  sizeChecks = true,
): IngestEvent | undefined {
  const sink: Sink = { prefix, index, errors };
  if (!isPlainObject(raw)) {
    fail(sink, '', 'must be a CloudEvent (JSON object)');
    return undefined;
  }
  const before = errors.length;
  for (const f of REQUIRED) {
    const v = raw[f];
    if (v === undefined || v === null) fail(sink, f, 'is required');
    else if (typeof v !== 'string') fail(sink, f, 'must be a string');
    else if (v.length === 0) fail(sink, f, 'must not be empty');
    else if (tooLong(v, MAX_STRING)) fail(sink, f, `must be at most ${MAX_STRING} bytes (UTF-8)`);
  }
  let specversion = '1.0';
  if (raw.specversion !== undefined && raw.specversion !== null) {
    if (typeof raw.specversion !== 'string' || raw.specversion.length === 0)
      fail(sink, 'specversion', 'must be a non-empty string');
    else if (raw.specversion !== '1.0') fail(sink, 'specversion', 'must be "1.0"');
    else specversion = raw.specversion;
  }
  let time = now;
  if (raw.time !== undefined && raw.time !== null) {
    if (!isRfc3339(raw.time)) fail(sink, 'time', 'must be an RFC 3339 date-time, e.g. 2026-01-01T00:00:00Z');
    else {
      const p = eventTimeProblem(raw.time);
      if (p) fail(sink, 'time', p);
      else time = raw.time;
    }
  }
  let data: Record<string, unknown> | null = null;
  if (raw.data !== undefined && raw.data !== null) {
    if (!isPlainObject(raw.data)) fail(sink, 'data', 'must be a JSON object or null');
    else {
      if (sizeChecks && tooLong(JSON.stringify(raw.data), MAX_DATA_BYTES))
        fail(sink, 'data', `must be at most ${MAX_DATA_BYTES} bytes as JSON (UTF-8)`);
      else data = raw.data;
    }
  }
  const datacontenttype = optString(sink, raw, 'datacontenttype');
  if (datacontenttype !== null && !JSON_CONTENT_TYPE.test(datacontenttype))
    fail(sink, 'datacontenttype', 'must be application/json (data is a JSON object)');
  const dataschema = optString(sink, raw, 'dataschema');
  if (errors.length > before) return undefined;
  return {
    id: raw.id as string,
    source: raw.source as string,
    type: raw.type as string,
    subject: raw.subject as string,
    specversion,
    time,
    data,
    datacontenttype,
    dataschema,
  };
}

export type BodyShape = 'single' | 'batch' | 'either';

/**
 * Validates a request body (one event or an array); returns the events or the list of problems.
 * `sizeChecks: false` skips measuring `data` when the whole body is at most MAX_DATA_BYTES.
 */
export function validateEvents(
  body: unknown,
  shape: BodyShape,
  now: string,
  opts: { sizeChecks?: boolean } = {},
): { events: IngestEvent[]; errors: InvalidParam[] } {
  const errors: InvalidParam[] = [];
  const events: IngestEvent[] = [];
  if (Array.isArray(body)) {
    if (shape === 'single') {
      errors.push({
        field: 'body',
        reason: 'application/cloudevents+json takes one event (use the batch type)',
      });
    } else if (body.length === 0) {
      errors.push({ field: 'body', reason: 'must contain at least one event' });
    } else {
      body.forEach((raw, i) => {
        const ev = validateEvent(raw, `body[${i}]`, i, now, errors, opts.sizeChecks ?? true);
        if (ev) events.push(ev);
      });
    }
  } else if (shape === 'batch') {
    errors.push({ field: 'body', reason: 'application/cloudevents-batch+json takes an array of events' });
  } else {
    const ev = validateEvent(body, 'body', undefined, now, errors, opts.sizeChecks ?? true);
    if (ev) events.push(ev);
  }
  return { events: errors.length ? [] : events, errors };
}

// ---------------------------------------------------------------------------------------------------
// Numbers that PostgreSQL's jsonb cannot hold

/**
 * Whether PostgreSQL's `numeric` (which jsonb stores numbers as) can hold the JSON number `token`: at most
 * 16,383 digits after the point (counting the exponent's shift) and a leading digit below 10^131072 (the
 * weight of a numeric is a 16-bit count of base-10000 digits). Mirrors numeric_in's overflow checks.
 */
export function numericFits(token: string): boolean {
  const m = /^-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?$/.exec(token);
  if (!m) return false;
  const int = m[1];
  const frac = m[2] ?? '';
  const exp = m[3] === undefined ? 0 : Number(m[3]);
  if (!(Math.abs(exp) < 1e9)) return false;
  if (Math.max(0, frac.length - exp) > 16383) return false;
  const all = int + frac;
  const lead = /^0*/.exec(all)![0].length;
  if (lead === all.length) return true; // zero
  const p = int.length - 1 - lead + exp; // decimal position of the leading digit
  return Math.floor(p / 4) <= 32767;
}

/** Strings are matched (and skipped) first, so only real number tokens of valid JSON text are returned. */
const JSON_TOKENS = /"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/g;

/** The first number of the (valid) JSON text that `numericFits` refuses, if any. */
export function unstorableNumber(json: string): string | undefined {
  for (const [tok] of json.matchAll(JSON_TOKENS)) if (tok[0] !== '"' && !numericFits(tok)) return tok;
  return undefined;
}
