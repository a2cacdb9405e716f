/**
 * Notification channels, rules and events: CRUD, the event log with its deliveries, resend, and a test
 * delivery. Channels and rules use the ORM; events and deliveries are SQL (written by the outbox and the
 * delivery activity).
 */
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { AppDeps } from '../deps';
import { exec, Sql } from '../db/sql';
import { conflict, gone, invalid, notFound } from '../lib/errors';
import { newId } from '../lib/ids';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { postTo, signedHeaders } from './delivery';
import { markForDispatch } from './outbox';
import { NotificationChannelEntity, NotificationRuleEntity, type ChannelRow, type RuleRow } from './entities';
import { parseAllowList, resolveTarget, type AllowList } from './ssrf';
import type { NotificationEventType, ThresholdValue } from './types';
import {
  channelView,
  deliveryView,
  ruleView,
  type ChannelMeta,
  type ChannelView,
  type DeliveryRowView,
  type EventView,
  type RuleView,
} from './views';

export interface ChannelInput {
  name: string;
  url: string;
  signing_secret?: string;
  custom_headers?: Record<string, string>;
  disabled?: boolean;
  metadata?: Record<string, string> | null;
}

export interface RuleInput {
  type: NotificationEventType;
  name: string;
  disabled?: boolean;
  channels: string[];
  features?: string[] | null;
  thresholds?: ThresholdValue[] | null;
  metadata?: Record<string, string> | null;
}

export interface EventListQuery {
  type?: NotificationEventType;
  from?: string;
  to?: string;
  page: PageParams;
}

/** A Standard Webhooks secret: `whsec_` + 32 random bytes in base64. */
export const newSigningSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

async function checkUrl(url: string, allow: AllowList): Promise<void> {
  const r = await resolveTarget(url, allow);
  if (!r.ok) throw invalid(`webhook url ${r.reason}`, [{ field: 'body.url', reason: r.reason }]);
}

async function liveChannel(em: EntityManager, id: string): Promise<ChannelRow> {
  const c = await em.findOne(NotificationChannelEntity, { id: id.toUpperCase() });
  if (!c) throw notFound('notification channel', id);
  if (c.deletedAt) throw gone('notification channel', id);
  return c;
}

async function liveRule(em: EntityManager, id: string): Promise<RuleRow> {
  const r = await em.findOne(NotificationRuleEntity, { id: id.toUpperCase() });
  if (!r) throw notFound('notification rule', id);
  if (r.deletedAt) throw gone('notification rule', id);
  return r;
}

async function channelMetas(em: EntityManager, ids: string[]): Promise<Map<string, ChannelMeta>> {
  if (ids.length === 0) return new Map();
  const rows = await em.find(NotificationChannelEntity, { id: { $in: [...new Set(ids)] } });
  return new Map(rows.map((c) => [c.id, { id: c.id, type: 'webhook' as const, name: c.name }]));
}

/** The rule's channels exist and are live (deleted ones are refused; disabled ones are allowed). */
async function checkChannels(em: EntityManager, ids: string[]): Promise<string[]> {
  const up = [...new Set(ids.map((i) => i.toUpperCase()))];
  const rows = await em.find(NotificationChannelEntity, { id: { $in: up }, deletedAt: null });
  const found = new Set(rows.map((c) => c.id));
  const params = up
    .map((id, i) => ({ id, i }))
    .filter((x) => !found.has(x.id))
    .map((x) => ({ field: `body.channels[${x.i}]`, reason: `no notification channel ${x.id}` }));
  if (params.length) throw invalid('a rule names channels that do not exist', params);
  return up;
}

/** Shows the channel's unfinished deliveries as stopped (their workflows stop at their next attempt). */
async function stopDeliveries(em: EntityManager, channelId: string, reason: string): Promise<void> {
  await exec(
    em,
    new Sql().add(
      `update notification_deliveries set state = 'failed', reason = ?, next_attempt_at = null, updated_at = now()
        where channel_id = ? and state in ('pending', 'resending', 'sending')`,
      reason,
      channelId,
    ),
  );
}

const DELIVERY_SELECT = `select d.event_id, d.channel_id, c.name as channel_name, d.state, d.reason, d.attempts,
    d.attempt_log, d.last_status_code, d.last_response, d.next_attempt_at, d.updated_at
  from notification_deliveries d join notification_channels c on c.id = d.channel_id`;

interface EventRow {
  id: string;
  type: string;
  created_at: Date;
  payload: unknown;
  rule_id: string;
  rule_name: string;
  rule_type: string;
}

async function eventViews(em: EntityManager, rows: EventRow[]): Promise<EventView[]> {
  if (rows.length === 0) return [];
  const ds = await exec<DeliveryRowView>(
    em,
    new Sql()
      .add(`${DELIVERY_SELECT} where d.event_id in `)
      .list(rows.map((r) => r.id))
      .add(' order by d.channel_id'),
  );
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    created_at: new Date(r.created_at).toISOString(),
    rule: { id: r.rule_id, name: r.rule_name, type: r.rule_type },
    delivery_status: ds.filter((d) => d.event_id === r.id).map(deliveryView),
    payload: r.payload,
  }));
}

const EVENT_SELECT = `select e.id, e.type, e.created_at, e.payload, e.rule_id, r.name as rule_name, r.type as rule_type
  from notification_events e join notification_rules r on r.id = e.rule_id`;

export function createNotificationsService(deps: Pick<AppDeps, 'orm' | 'config'>) {
  const em = (): EntityManager => deps.orm.em;
  const allow = parseAllowList(deps.config.TALLY_WEBHOOK_ALLOWED_HOSTS);

  return {
    async createChannel(input: ChannelInput): Promise<ChannelView> {
      await checkUrl(input.url, allow);
      const now = new Date();
      const c = em().create(NotificationChannelEntity, {
        id: newId(),
        type: 'webhook',
        name: input.name,
        url: input.url,
        signingSecret: input.signing_secret ?? newSigningSecret(),
        customHeaders: input.custom_headers ?? {},
        disabled: input.disabled ?? false,
        metadata: input.metadata ?? null,
        createdAt: now,
        updatedAt: now,
        deletedAt: null,
      });
      await em().flush();
      // the secret is shown once, to the caller that set or generated it
      return channelView(c, true);
    },

    async listChannels(q: { includeDisabled: boolean; includeDeleted: boolean; page: PageParams }) {
      const where = {
        ...(q.includeDeleted ? {} : { deletedAt: null }),
        ...(q.includeDisabled ? {} : { disabled: false }),
      };
      const { limit, offset } = pageOffset(q.page);
      const [rows, total] = await em().findAndCount(NotificationChannelEntity, where, {
        orderBy: { createdAt: 'asc', id: 'asc' },
        limit,
        offset,
      });
      return toPage(
        rows.map((c) => channelView(c)),
        total,
        q.page,
      );
    },

    async getChannel(id: string): Promise<ChannelView> {
      const c = await em().findOne(NotificationChannelEntity, { id: id.toUpperCase() });
      if (!c) throw notFound('notification channel', id);
      return channelView(c);
    },

    /** Replaces the channel; an absent `signing_secret` keeps the current one. Disabling stops pending retries. */
    async replaceChannel(id: string, input: ChannelInput): Promise<ChannelView> {
      const c = await liveChannel(em(), id);
      if (input.url !== c.url) await checkUrl(input.url, allow);
      c.name = input.name;
      c.url = input.url;
      c.customHeaders = input.custom_headers ?? {};
      c.disabled = input.disabled ?? false;
      c.metadata = input.metadata ?? null;
      if (input.signing_secret) c.signingSecret = input.signing_secret;
      await em().flush();
      if (c.disabled) await stopDeliveries(em(), c.id, 'channel disabled');
      return channelView(c, !!input.signing_secret);
    },

    /** Soft-deletes the channel; refused while a live rule sends to it. Its pending retries stop. */
    async deleteChannel(id: string): Promise<void> {
      const c = await liveChannel(em(), id);
      const rules = await exec<{ id: string }>(
        em(),
        new Sql().add(
          'select id from notification_rules where deleted_at is null and ? = any(channel_ids) order by id',
          c.id,
        ),
      );
      if (rules.length)
        throw conflict(
          `notification channel ${c.id} is used by rules: ${rules.map((r) => r.id).join(', ')}`,
          {
            rules: rules.map((r) => r.id),
          },
        );
      c.deletedAt = new Date();
      await em().flush();
      await stopDeliveries(em(), c.id, 'channel deleted');
    },

    /** Sends a signed test event to the channel now and tells what the receiver answered (nothing stored). */
    async testChannel(id: string) {
      const c = await liveChannel(em(), id);
      const r = await resolveTarget(c.url, allow);
      if (!r.ok) throw invalid(`webhook url ${r.reason}`, [{ field: 'url', reason: r.reason }]);
      const eventId = newId();
      const now = new Date();
      const body = JSON.stringify({
        id: eventId,
        type: 'notification.test',
        timestamp: now.toISOString(),
        data: { channel: { id: c.id, name: c.name } },
      });
      const res = await postTo(
        r.target,
        { ...c.customHeaders, ...signedHeaders(c.signingSecret, eventId, now, body) },
        body,
      );
      const success = res.statusCode !== null && res.statusCode >= 200 && res.statusCode < 300;
      return {
        event_id: eventId,
        success,
        ...(res.statusCode !== null ? { status_code: res.statusCode } : {}),
        ...(res.error ? { error: res.error } : {}),
        body: res.body,
        duration_ms: res.durationMs,
      };
    },

    async createRule(input: RuleInput): Promise<RuleView> {
      const channelIds = await checkChannels(em(), input.channels);
      const now = new Date();
      const r = em().create(NotificationRuleEntity, {
        id: newId(),
        type: input.type,
        name: input.name,
        disabled: input.disabled ?? false,
        channelIds,
        featureKeys: input.features ?? null,
        thresholds: input.thresholds ?? null,
        metadata: input.metadata ?? null,
        createdAt: now,
        updatedAt: now,
        deletedAt: null,
      });
      await em().flush();
      return ruleView(r, await channelMetas(em(), channelIds));
    },

    async listRules(q: { includeDisabled: boolean; includeDeleted: boolean; page: PageParams }) {
      const where = {
        ...(q.includeDeleted ? {} : { deletedAt: null }),
        ...(q.includeDisabled ? {} : { disabled: false }),
      };
      const { limit, offset } = pageOffset(q.page);
      const [rows, total] = await em().findAndCount(NotificationRuleEntity, where, {
        orderBy: { createdAt: 'asc', id: 'asc' },
        limit,
        offset,
      });
      const metas = await channelMetas(
        em(),
        rows.flatMap((r) => r.channelIds),
      );
      return toPage(
        rows.map((r) => ruleView(r, metas)),
        total,
        q.page,
      );
    },

    async getRule(id: string): Promise<RuleView> {
      const r = await em().findOne(NotificationRuleEntity, { id: id.toUpperCase() });
      if (!r) throw notFound('notification rule', id);
      return ruleView(r, await channelMetas(em(), r.channelIds));
    },

    async replaceRule(id: string, input: RuleInput): Promise<RuleView> {
      const r = await liveRule(em(), id);
      if (input.type !== r.type)
        throw invalid('a rule keeps its type', [{ field: 'body.type', reason: `the rule is ${r.type}` }]);
      const channelIds = await checkChannels(em(), input.channels);
      r.name = input.name;
      r.disabled = input.disabled ?? false;
      r.channelIds = channelIds;
      r.featureKeys = input.features ?? null;
      r.thresholds = input.thresholds ?? null;
      r.metadata = input.metadata ?? null;
      await em().flush();
      return ruleView(r, await channelMetas(em(), channelIds));
    },

    async deleteRule(id: string): Promise<void> {
      const r = await liveRule(em(), id);
      r.deletedAt = new Date();
      await em().flush();
    },

    async listEvents(q: EventListQuery): Promise<Page<EventView>> {
      const where = new Sql().add(' where true');
      if (q.type) where.add(' and e.type = ?', q.type);
      if (q.from) where.add(' and e.created_at >= ?', q.from);
      if (q.to) where.add(' and e.created_at <= ?', q.to);
      const { limit, offset } = pageOffset(q.page);
      const rows = await exec<EventRow>(
        em(),
        new Sql()
          .add(EVENT_SELECT)
          .add(where.text, ...where.params)
          .add(' order by e.created_at desc, e.id desc limit ? offset ?', limit, offset),
      );
      const count = await exec<{ n: string }>(
        em(),
        new Sql().add('select count(*) as n from notification_events e').add(where.text, ...where.params),
      );
      return toPage(await eventViews(em(), rows), Number(count[0].n), q.page);
    },

    async getEvent(id: string): Promise<EventView> {
      const rows = await exec<EventRow>(
        em(),
        new Sql().add(`${EVENT_SELECT} where e.id = ?`, id.toUpperCase()),
      );
      if (!rows[0]) throw notFound('notification event', id);
      return (await eventViews(em(), rows))[0];
    },

    /**
     * Sends the event again to its channels (or to `channels` of them): each delivery starts a new
     * generation (a new workflow, the same `webhook-id`); a retry loop of the previous one stops.
     */
    async resendEvent(id: string, channels?: string[]): Promise<void> {
      const eventId = id.toUpperCase();
      const found = await exec(
        em(),
        new Sql().add('select id from notification_events where id = ?', eventId),
      );
      if (!found[0]) throw notFound('notification event', id);
      const q = new Sql().add(
        `update notification_deliveries d set generation = generation + 1, state = 'resending', reason = null,
            dispatched_at = null, next_attempt_at = null, updated_at = now()
          from notification_channels c
         where c.id = d.channel_id and c.deleted_at is null and not c.disabled and d.event_id = ?`,
        eventId,
      );
      if (channels?.length) q.add(' and d.channel_id in ').list(channels.map((c) => c.toUpperCase()));
      q.add(' returning d.id');
      await em().transactional(async (tem) => {
        const rows = await exec(tem, q);
        if (rows.length === 0)
          throw conflict(
            `notification event ${eventId} has no delivery to a live, enabled channel to resend`,
          );
        markForDispatch(tem);
      });
    },
  };
}

export type NotificationsService = ReturnType<typeof createNotificationsService>;
