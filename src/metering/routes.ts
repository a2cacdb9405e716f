/** HTTP: /events (ingest, list), /meters (CRUD), /meters/{meterId}/query. Validation at the edge with zod. */
import { fieldFilter, filterObject, sortQuery } from '../lib/list-query';
import { METER_SORT_FIELDS } from './meters';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { labels } from '../api/schemas';
import { badRequest, ProblemError } from '../api/problem';
import { rawJsonBody } from '../api/raw-body';
import { parseBody, parseQuery } from '../api/validate';
import type { AppDeps } from '../deps';
import { noteIngested } from '../notifications/thresholds';
import { KEY_IS_ID_SHAPED, looksLikeId } from '../lib/ids';
import { pageQuery } from '../lib/pagination';
import { stringifyWithRaw } from '../lib/raw-json';
import { AGGREGATIONS } from './entities';
import { MAX_DATA_BYTES, validateEvents, type BodyShape } from './events';
import { jsonPathProblem } from './jsonpath';
import { createMeteringService } from './service';
import { isRfc3339, isTimeZone } from './time';

const dateTime = z.string().refine(isRfc3339, { message: 'must be an RFC 3339 date-time' });
const jsonPath = z.string().superRefine((s, ctx) => {
  const problem = jsonPathProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: `unsupported JSONPath: ${problem}` });
});
const dimensionName = z
  .string()
  .regex(/^[A-Za-z0-9_]{1,64}$/, { message: 'dimension names are letters, digits and _' })
  .refine((s) => s !== 'subject' && s !== 'customer_id', { message: 'subject and customer_id are reserved' });
const dimensions = z.record(dimensionName, jsonPath).refine((d) => Object.keys(d).length <= 50, {
  message: 'at most 50 dimensions',
});

const createMeterBody = z
  .strictObject({
    name: z.string().min(1).max(256),
    key: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[a-z0-9]+(?:_[a-z0-9]+)*$/, {
        message: 'must be lowercase letters and digits separated by _',
      })
      .refine((k) => !looksLikeId(k), KEY_IS_ID_SHAPED),
    description: z.string().max(1024).optional(),
    labels: labels.optional(),
    aggregation: z.enum(AGGREGATIONS),
    event_type: z.string().min(1).max(1024),
    value_property: jsonPath.optional(),
    dimensions: dimensions.optional(),
    events_from: dateTime.optional(),
  })
  .superRefine((m, ctx) => {
    if (m.aggregation !== 'count' && !m.value_property)
      ctx.addIssue({
        code: 'custom',
        path: ['value_property'],
        message: `is required for ${m.aggregation} meters`,
      });
  });

const updateMeterBody = z.strictObject({
  name: z.string().min(1).max(256).optional(),
  description: z.string().max(1024).nullable().optional(),
  labels: labels.nullable().optional(),
  dimensions: dimensions.optional(),
});

const listMetersQuery = z.object({
  page: pageQuery,
  filter: filterObject(
    { key: fieldFilter('string'), name: fieldFilter('string') },
    { labels: true },
  ).optional(),
  sort: sortQuery(METER_SORT_FIELDS),
});

const timeRange = z.union([
  dateTime.transform((eq) => ({ eq })),
  z.strictObject({
    eq: dateTime.optional(),
    gte: dateTime.optional(),
    gt: dateTime.optional(),
    lt: dateTime.optional(),
    lte: dateTime.optional(),
  }),
]);

/** OpenMeter's ULIDFieldFilter on customer_id, `eq` and `oeq` only (as OpenMeter: `neq` is refused) */
const customerFilter = fieldFilter('ulid').transform((f, ctx): string[] => {
  if (f.op === 'eq') return [f.value];
  if (f.op === 'oeq') return f.values;
  ctx.addIssue({ code: 'custom', message: 'only the eq and oeq operators are supported' });
  return z.NEVER;
});

/**
 * `sort=time [asc|desc]`. As OpenMeter, a field without a suffix sorts descending (`sort=time` is the
 * default, newest first). `ingested_at` and `stored_at` (OpenMeter's other two) are refused by name: no
 * index serves them (see the README).
 */
const eventSort = z
  .string()
  .optional()
  .transform((s, ctx): { asc: boolean } | undefined => {
    if (s === undefined || s.trim() === '') return undefined;
    const m = /^\s*([a-z_]+)(?:\s+(asc|desc))?\s*$/i.exec(s);
    if (!m || !['time', 'ingested_at', 'stored_at'].includes(m[1])) {
      ctx.addIssue({ code: 'custom', message: 'sort by time [asc|desc]' });
      return z.NEVER;
    }
    if (m[1] !== 'time') {
      ctx.addIssue({
        code: 'custom',
        message: `sorting by ${m[1]} is not supported (no index serves it); sort by time [asc|desc]`,
      });
      return z.NEVER;
    }
    return { asc: m[2]?.toLowerCase() === 'asc' };
  });

/** OpenMeter's list-metering-events query; anything else is a 400 naming it */
const listEventsQuery = z.strictObject({
  page: z
    .strictObject({
      size: z.coerce.number().int().min(1).max(1000).default(100),
      after: z.string().min(1).optional(),
      // the page before a cursor (`meta.page.previous`)
      before: z.string().min(1).optional(),
    })
    .refine((p) => p.after === undefined || p.before === undefined, {
      message: 'page[after] and page[before] cannot be combined',
      path: ['before'],
    })
    .default({ size: 100 }),
  filter: filterObject({
    id: fieldFilter('string'),
    source: fieldFilter('string'),
    subject: fieldFilter('string'),
    type: fieldFilter('string'),
    customer_id: customerFilter,
    time: timeRange,
    ingested_at: timeRange,
    stored_at: timeRange,
  }).optional(),
  sort: eventSort,
});

const valuesList = z.array(z.string()).min(1).max(100);
const dimensionFilter = z.union([
  z.strictObject({ eq: z.string() }),
  z.strictObject({ neq: z.string() }),
  z.strictObject({ in: valuesList }),
  z.strictObject({ nin: valuesList }),
]);

const meterQueryBody = z
  .strictObject({
    from: dateTime.optional(),
    to: dateTime.optional(),
    granularity: z.enum(['PT1M', 'PT1H', 'P1D', 'P1M']).optional(),
    time_zone: z
      .string()
      .refine(isTimeZone, { message: 'must be an IANA time zone such as Europe/Berlin' })
      .optional(),
    group_by_dimensions: z.array(z.string().min(1)).max(100).optional(),
    filters: z
      .strictObject({
        dimensions: z
          .record(z.string().min(1), dimensionFilter)
          .refine((d) => Object.keys(d).length <= 10, { message: 'at most 10 dimension filters' })
          .optional(),
      })
      .optional(),
  })
  .superRefine((q, ctx) => {
    if (q.from && q.to && !(Date.parse(q.from) < Date.parse(q.to)))
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
  });

const BATCH = 'application/cloudevents-batch+json';
const SINGLE = 'application/cloudevents+json';

function bodyShape(req: Request): BodyShape {
  const type = req.is([SINGLE, BATCH, 'application/json', 'application/*+json']);
  if (!type) {
    throw new ProblemError(
      415,
      `use Content-Type ${SINGLE}, ${BATCH} or application/json (got ${req.get('content-type') ?? 'none'})`,
    );
  }
  if (type === BATCH) return 'batch';
  if (type === SINGLE) return 'single';
  return 'either';
}

const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');

/** one event's JSON text as a one-element array */
const asArray = (raw: Buffer | string): Buffer | string =>
  typeof raw === 'string' ? `[${raw}]` : Buffer.concat([OPEN, raw, CLOSE]);

export function meteringRoutes(deps: AppDeps): Router {
  const svc = createMeteringService(deps);
  const r = Router();

  r.post('/events', async (req, res) => {
    const shape = bodyShape(req);
    const receivedAt = new Date();
    // stored from the request's own JSON text (validated below as parsed), never re-serialized from parsed
    // JS values: one event is stored as `[<its text>]`, so both paths keep every number exactly as sent
    const single = !Array.isArray(req.body);
    const raw = rawJsonBody(req);
    const { events, errors } = validateEvents(req.body, shape, receivedAt.toISOString(), {
      sizeChecks: raw === undefined || typeof raw === 'string' || raw.length > MAX_DATA_BYTES,
    });
    if (errors.length) {
      const n = new Set(errors.map((e) => e.index)).size;
      throw badRequest(
        Array.isArray(req.body) ? `${n} event(s) are invalid; nothing was stored` : 'the event is invalid',
        errors,
      );
    }
    const text = raw === undefined || !single ? raw : asArray(raw);
    const stored = await svc.ingest(events, receivedAt, text, { single });
    deps.logger.debug({ received: events.length, stored }, 'events ingested');
    // notifications (issue 12): balance thresholds of these subjects, evaluated shortly after (not awaited)
    if (stored > 0) noteIngested(deps, new Set(events.map((e) => e.subject)));
    res.status(202).end();
  });

  r.get('/events', async (req, res) => {
    const q = parseQuery(listEventsQuery, req.query);
    const page = await svc.listEvents({
      ...(q.filter ?? {}),
      size: q.page.size,
      after: q.page.after,
      before: q.page.before,
      asc: q.sort?.asc,
    });
    // data as stored: numbers exactly as ingested, not rounded through JavaScript numbers
    res.type('application/json').send(stringifyWithRaw(page));
  });

  r.post('/meters', async (req, res) => {
    const body = parseBody(createMeterBody, req.body);
    res.status(201).json(await svc.createMeter(body));
  });

  r.get('/meters', async (req, res) => {
    const q = parseQuery(listMetersQuery, req.query);
    res.json(await svc.listMeters({ ...q.filter, sort: q.sort }, q.page));
  });

  r.get('/meters/:meterId', async (req, res) => {
    res.json(await svc.getMeter(req.params.meterId));
  });

  r.put('/meters/:meterId', async (req, res) => {
    const body = parseBody(updateMeterBody, req.body);
    res.json(await svc.updateMeter(req.params.meterId, body));
  });

  r.delete('/meters/:meterId', async (req, res) => {
    await svc.deleteMeter(req.params.meterId);
    res.status(204).end();
  });

  r.post('/meters/:meterId/query', async (req, res) => {
    const body = parseBody(meterQueryBody, req.body ?? {});
    res.json(await svc.queryMeter(req.params.meterId, body));
  });

  return r;
}
