/**
 * REST: /v3/openmeter/notification/channels, /notification/rules, /notification/events (OpenMeter's
 * notification API, snake_case). Every field is validated here; errors name the field.
 */
import { Router } from 'express';
import { z } from 'zod';
import { dateTime } from '../api/schemas';
import { badRequest } from '../api/problem';
import { parseBody, parseQuery } from '../api/validate';
import type { AppDeps } from '../deps';
import { looksLikeId } from '../lib/ids';
import { pageQuery } from '../lib/pagination';
import { createNotificationsService } from './service';
import { EVENT_TYPES } from './types';

/** headers Tally sets itself: a channel may not override them */
const RESERVED_HEADERS = /^(webhook-|content-|host$|user-agent$|connection$|transfer-encoding$)/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const metadata = z.record(z.string(), z.string().max(1024)).nullish();

const customHeaders = z.record(z.string(), z.string().max(4096)).superRefine((h, ctx) => {
  const keys = Object.keys(h);
  if (keys.length > 50) ctx.addIssue({ code: 'custom', message: 'at most 50 custom headers' });
  for (const k of keys) {
    if (!HEADER_NAME.test(k))
      ctx.addIssue({ code: 'custom', path: [k], message: 'is not a valid header name' });
    else if (RESERVED_HEADERS.test(k))
      ctx.addIssue({ code: 'custom', path: [k], message: 'is set by Tally and cannot be overridden' });
    if (/[\r\n]/.test(h[k]))
      ctx.addIssue({ code: 'custom', path: [k], message: 'must not contain line breaks' });
  }
});

const channelBody = z.strictObject({
  type: z.literal('webhook'),
  name: z.string().min(1).max(256),
  url: z.string().min(1).max(2048),
  signing_secret: z
    .string()
    .regex(
      /^(whsec_)?[a-zA-Z0-9+/=]{32,100}$/,
      'must be base64 (32 to 100 characters), optionally prefixed whsec_',
    )
    .optional(),
  custom_headers: customHeaders.optional(),
  disabled: z.boolean().optional(),
  metadata,
});

const decimal = z.string().regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal string');
const threshold = z.strictObject({ type: z.enum(['percent', 'number']), value: decimal });

const ruleBody = z
  .strictObject({
    type: z.enum(EVENT_TYPES),
    name: z.string().min(1).max(256),
    disabled: z.boolean().optional(),
    channels: z.array(z.string().refine(looksLikeId, 'must be a channel id')).min(1).max(50),
    features: z.array(z.string().min(1).max(256)).min(1).max(100).nullish(),
    thresholds: z.array(threshold).min(1).max(10).nullish(),
    metadata,
  })
  .superRefine((b, ctx) => {
    const isThreshold = b.type === 'entitlements.balance.threshold';
    if (isThreshold && !b.thresholds)
      ctx.addIssue({
        code: 'custom',
        path: ['thresholds'],
        message: 'is required for entitlements.balance.threshold',
      });
    if (!isThreshold && b.thresholds)
      ctx.addIssue({
        code: 'custom',
        path: ['thresholds'],
        message: 'only entitlements.balance.threshold rules have thresholds',
      });
    if (!b.type.startsWith('entitlements.') && b.features)
      ctx.addIssue({
        code: 'custom',
        path: ['features'],
        message: 'only entitlements rules filter by feature',
      });
  });

const flag = z.enum(['true', 'false']).transform((v) => v === 'true');
const listQuery = z.object({
  page: pageQuery,
  include_disabled: flag.default(true),
  include_deleted: flag.default(false),
});
const instantQuery = dateTime;
const eventsQuery = z.object({
  page: pageQuery,
  filter: z
    .strictObject({
      type: z.enum(EVENT_TYPES).optional(),
      from: instantQuery.optional(),
      to: instantQuery.optional(),
    })
    .optional(),
});
const resendBody = z
  .strictObject({
    channels: z.array(z.string().refine(looksLikeId, 'must be a channel id')).min(1).optional(),
  })
  .optional();

function pathId(what: string, id: string): string {
  if (!looksLikeId(id))
    throw badRequest(`the ${what} id is invalid`, [{ field: 'path.id', reason: 'must be a ULID' }]);
  return id;
}

export function notificationRoutes(deps: AppDeps): Router {
  const svc = createNotificationsService(deps);
  const r = Router();

  r.post('/notification/channels', async (req, res) => {
    const { type: _type, ...body } = parseBody(channelBody, req.body);
    res.status(201).json(await svc.createChannel(body));
  });
  r.get('/notification/channels', async (req, res) => {
    const q = parseQuery(listQuery, req.query);
    res.json(
      await svc.listChannels({
        includeDisabled: q.include_disabled,
        includeDeleted: q.include_deleted,
        page: q.page,
      }),
    );
  });
  r.get('/notification/channels/:id', async (req, res) => {
    res.json(await svc.getChannel(pathId('notification channel', req.params.id)));
  });
  r.put('/notification/channels/:id', async (req, res) => {
    const id = pathId('notification channel', req.params.id);
    const { type: _type, ...body } = parseBody(channelBody, req.body);
    res.json(await svc.replaceChannel(id, body));
  });
  r.delete('/notification/channels/:id', async (req, res) => {
    await svc.deleteChannel(pathId('notification channel', req.params.id));
    res.status(204).end();
  });
  r.post('/notification/channels/:id/test', async (req, res) => {
    res.json(await svc.testChannel(pathId('notification channel', req.params.id)));
  });

  r.post('/notification/rules', async (req, res) => {
    res.status(201).json(await svc.createRule(parseBody(ruleBody, req.body)));
  });
  r.get('/notification/rules', async (req, res) => {
    const q = parseQuery(listQuery, req.query);
    res.json(
      await svc.listRules({
        includeDisabled: q.include_disabled,
        includeDeleted: q.include_deleted,
        page: q.page,
      }),
    );
  });
  r.get('/notification/rules/:id', async (req, res) => {
    res.json(await svc.getRule(pathId('notification rule', req.params.id)));
  });
  r.put('/notification/rules/:id', async (req, res) => {
    const id = pathId('notification rule', req.params.id);
    res.json(await svc.replaceRule(id, parseBody(ruleBody, req.body)));
  });
  r.delete('/notification/rules/:id', async (req, res) => {
    await svc.deleteRule(pathId('notification rule', req.params.id));
    res.status(204).end();
  });

  r.get('/notification/events', async (req, res) => {
    const q = parseQuery(eventsQuery, req.query);
    res.json(await svc.listEvents({ ...(q.filter ?? {}), page: q.page }));
  });
  r.get('/notification/events/:id', async (req, res) => {
    res.json(await svc.getEvent(pathId('notification event', req.params.id)));
  });
  r.post('/notification/events/:id/resend', async (req, res) => {
    const id = pathId('notification event', req.params.id);
    const raw: unknown = req.body;
    const empty = raw === undefined || (typeof raw === 'object' && raw !== null && !Object.keys(raw).length);
    const body = parseBody(resendBody, empty ? undefined : raw);
    await svc.resendEvent(id, body?.channels);
    res.status(202).end();
  });

  return r;
}
