/**
 * Entitlements, derived: a customer's entitlements are the entitlement templates of the rate cards in the
 * current phase of its active subscription(s), read from the `subscriptions` row that the subscription
 * workflow's activities write at the exact instant a subscription starts, changes phase, migrates,
 * changes plan or is canceled. There is no second source of truth (no entitlements table), so access
 * follows billing at the same instant.
 *
 * A subscription counts when `status = 'active'` and `active_from <= now < active_to` (active_to when set).
 *
 * Every evaluation, for one customer or up to a hundred, is TWO SQL statements:
 *  1. customers (by key/subject, or id/key) + their active subscriptions + the phase's rate cards with an
 *     entitlement template and a feature (+ the feature's meter), in one statement;
 *  2. the usage of every metered entitlement, as one `union all` of the metering module's exact meter
 *     query per (meter, filters, subjects, window) — the same SQL `aggregateUsage` runs.
 * Statement 2 is skipped when nothing metered is in force. No cache: answers are always current.
 */
import type { EntityManager } from '@mikro-orm/core';
import { notFound } from '../lib/errors';
import type { EntitlementTemplate, FeatureMeterFilter } from '../catalog/types';
import { subjectWindowsSql, windowsFromJson, type SubjectWindow } from '../customers/service';
import { idOrKey } from '../lib/ids';
import type { AppDeps } from '../deps';
import type { Aggregation } from '../metering/entities';
import { billableUsage, buildMeterQuery, type DimensionFilter, type MeterDto } from '../metering/service';
import { exec, Sql } from '../db/sql';
import { normalizeTs, tsSql } from '../metering/time';
import {
  accessEntry,
  mergeEntries,
  usageWindow,
  type AccessEntry,
  type EntitlementSource,
  type EntitlementType,
} from './evaluate';

export type { AccessEntry } from './evaluate';

// ---------------------------------------------------------------------------------------------------
// loading (statement 1)

/** How input keys name customers: `id_or_key` (the customer path) or `key_or_subject` (the access query). */
export type MatchMode = 'id_or_key' | 'key_or_subject';

export interface MeterInfo {
  id: string;
  key: string;
  aggregation: Aggregation;
  event_type: string;
  value_property: string | null;
  dimensions: Record<string, string> | null;
  events_from: string | null;
}

interface LoadedSource extends EntitlementSource {
  meter: MeterInfo | null;
  filters: Record<string, string[]> | undefined;
}

export interface LoadedCustomer {
  id: string;
  key: string;
  name: string;
  /** the input keys that named this customer, in input order */
  matched: string[];
  /** the customer's names with their ownership windows: its usage */
  subjects: SubjectWindow[];
  sources: LoadedSource[];
}

interface Row {
  id: string;
  key: string;
  name: string;
  matched: string[];
  subject_windows: Parameters<typeof windowsFromJson>[0];
  subscription_id: string | null;
  billing_anchor: string | null;
  active_from: string | null;
  plan_cadence: string | null;
  rc_cadence: string | null;
  template: EntitlementTemplate | null;
  feature_key: string | null;
  meter_filters: Record<string, FeatureMeterFilter> | null;
  meter_id: string | null;
  meter_key: string | null;
  aggregation: Aggregation | null;
  event_type: string | null;
  value_property: string | null;
  dimensions: Record<string, string> | null;
  events_from: string | null;
}

const ts = (s: string): Date => new Date(normalizeTs(s));

/** A feature's meter filters (`{dim: {eq} | {in}}`) as usage filters (`{dim: values}`), as billing reads them. */
function filtersOf(f: Record<string, FeatureMeterFilter> | null): Record<string, string[]> | undefined {
  if (!f) return undefined;
  const out: Record<string, string[]> = {};
  for (const [dim, cond] of Object.entries(f)) {
    const values = cond.in ?? (cond.eq !== undefined ? [cond.eq] : []);
    if (values.length > 0) out[dim] = values;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The customers named by `keys` with the entitlement sources in force at `now` (optionally only for
 * `featureKeys`). Unmatched keys simply name no customer. One SQL statement.
 */
export async function loadCustomers(
  em: EntityManager,
  keys: string[],
  mode: MatchMode,
  now: Date,
  featureKeys?: string[],
): Promise<LoadedCustomer[]> {
  const input = [...new Set(keys)];
  if (input.length === 0) return [];
  // id_or_key: a key shaped like an id names the id only (upper-cased), any other key the key only
  const ref = (k: string) => (mode === 'id_or_key' ? idOrKey(k) : { key: k });
  const q = new Sql().add('with input (k, id, key, ord) as (values ');
  input.forEach((k, i) => {
    const r = ref(k);
    const [id, key] = 'id' in r ? [r.id, null] : [null, r.key];
    q.add(i === 0 ? '(?::text, ?::text, ?::text, ?::int)' : ', (?, ?, ?, ?)', k, id, key, i);
  });
  q.add(`), m as materialized (
      select i.k, i.ord, c.id as customer_id from input i
        join customers c on c.key = i.key and c.deleted_at is null`);
  if (mode === 'key_or_subject')
    q.add(`
      union
      select i.k, i.ord, s.customer_id from input i join customer_subjects s on s.subject_key = i.key
        join customers c on c.id = s.customer_id and c.deleted_at is null`);
  else
    q.add(`
      union
      select i.k, i.ord, c.id from input i join customers c on c.id = i.id and c.deleted_at is null`);
  q.add(
    `
    ), cust as (
      select c.id, c.key, c.name, min(m.ord) as ord, array_agg(m.k order by m.ord) as matched,
        (select jsonb_agg(to_jsonb(sw) order by sw.subject, sw.owned_from nulls first)
          from ${subjectWindowsSql('c.id')} sw) as subject_windows
      from m join customers c on c.id = m.customer_id
      group by c.id
    ), ent as materialized (
      select s.customer_id, s.id as subscription_id, s.active_from as active_from_ts,
        ${tsSql('s.billing_anchor')} as billing_anchor, ${tsSql('s.active_from')} as active_from,
        p.billing_cadence as plan_cadence, rc.value->>'billing_cadence' as rc_cadence,
        rc.value->'entitlement' as template, f.key as feature_key, f.meter_filters,
        mt.id as meter_id, mt.key as meter_key, mt.aggregation, mt.event_type, mt.value_property,
        mt.dimensions, ${tsSql('mt.events_from')} as events_from
      from subscriptions s
        join plans p on p.id = s.plan_id
        cross join lateral jsonb_array_elements(p.phases) ph
        cross join lateral jsonb_array_elements(ph.value->'rate_cards') rc
        join features f on f.id = rc.value->'feature'->>'id'
        left join meters mt on mt.id = f.meter_id
      where s.customer_id in (select id from cust)
        and s.status = 'active'
        and s.active_from <= ?::timestamptz
        and (s.active_to is null or s.active_to > ?::timestamptz)
        and ph.value->>'key' = s.phase_key
        and jsonb_typeof(rc.value->'entitlement') = 'object'`,
    now.toISOString(),
    now.toISOString(),
  );
  if (featureKeys) q.add(' and f.key in ').list([...new Set(featureKeys)]);
  q.add(`
    )
    select cust.id, cust.key, cust.name, cust.matched, cust.subject_windows, ent.subscription_id,
      ent.billing_anchor, ent.active_from, ent.plan_cadence, ent.rc_cadence, ent.template, ent.feature_key,
      ent.meter_filters, ent.meter_id, ent.meter_key, ent.aggregation, ent.event_type, ent.value_property,
      ent.dimensions, ent.events_from
    from cust left join ent on ent.customer_id = cust.id
    order by cust.ord, cust.id, ent.active_from_ts, ent.subscription_id, ent.feature_key`);
  const rows = await exec<Row>(em, q);

  const out = new Map<string, LoadedCustomer>();
  for (const r of rows) {
    let c = out.get(r.id);
    if (!c) {
      c = {
        id: r.id,
        key: r.key,
        name: r.name,
        matched: r.matched,
        subjects: windowsFromJson(r.subject_windows),
        sources: [],
      };
      out.set(r.id, c);
    }
    if (!r.subscription_id || !r.template || !r.feature_key) continue;
    const meter: MeterInfo | null =
      r.meter_id && r.aggregation && r.event_type
        ? {
            id: r.meter_id,
            key: r.meter_key ?? r.meter_id,
            aggregation: r.aggregation,
            event_type: r.event_type,
            value_property: r.value_property,
            dimensions: r.dimensions,
            events_from: r.events_from,
          }
        : null;
    c.sources.push({
      subscription_id: r.subscription_id,
      feature_key: r.feature_key,
      template: r.template,
      rate_card_cadence: r.rc_cadence,
      plan_cadence: r.plan_cadence ?? 'P1M',
      billing_anchor: ts(r.billing_anchor ?? r.active_from ?? now.toISOString()),
      active_from: ts(r.active_from ?? now.toISOString()),
      meter,
      filters: filtersOf(r.meter_filters),
    });
  }
  return [...out.values()];
}

// ---------------------------------------------------------------------------------------------------
// usage (statement 2)

export interface UsageItem {
  meter: MeterInfo;
  subjects: SubjectWindow[];
  from: Date;
  to: Date;
  filters?: Record<string, string[]>;
}

const itemKey = (i: UsageItem) =>
  JSON.stringify([i.meter.id, i.subjects, i.from.getTime(), i.to.getTime(), i.filters ?? null]);

function meterDto(m: MeterInfo): MeterDto {
  return {
    id: m.id,
    key: m.key,
    name: m.key,
    aggregation: m.aggregation,
    event_type: m.event_type,
    ...(m.value_property !== null ? { value_property: m.value_property } : {}),
    dimensions: m.dimensions ?? {},
    ...(m.events_from !== null ? { events_from: normalizeTs(m.events_from) } : {}),
    created_at: '',
    updated_at: '',
  };
}

/**
 * The aggregate of every item, never negative (same semantics as `aggregateUsage`: half-open [from, to), "0" when
 * there are no events), in ONE statement. Returns values keyed by `itemKey`.
 */
export async function usageOf(em: EntityManager, items: UsageItem[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const distinct = new Map<string, UsageItem>();
  for (const it of items) {
    const k = itemKey(it);
    const empty =
      it.subjects.length === 0 ||
      !(it.from < it.to) ||
      Object.values(it.filters ?? {}).some((v) => v.length === 0);
    if (empty) out.set(k, '0');
    else distinct.set(k, it);
  }
  if (distinct.size === 0) return out;
  const keys = [...distinct.keys()];
  const q = new Sql();
  keys.forEach((k, i) => {
    const it = distinct.get(k)!;
    const dims: Record<string, DimensionFilter> = {};
    for (const [d, values] of Object.entries(it.filters ?? {})) dims[d] = { in: values };
    const sub = buildMeterQuery(meterDto(it.meter), {
      from: it.from.toISOString(),
      to: it.to.toISOString(),
      subjects: it.subjects,
      filters: { dimensions: dims },
    });
    q.add(i === 0 ? 'select ?::int as i, u.value from (' : ' union all select ?, u.value from (', i);
    q.add(sub.text, ...sub.params).add(') u');
  });
  const rows = await exec<{ i: number; value: string | null }>(em, q);
  for (const k of keys) out.set(k, '0');
  // usage is never negative for an entitlement (billableUsage): corrections cannot grant extra balance
  for (const r of rows) out.set(keys[Number(r.i)], billableUsage(r.value ?? '0'));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// evaluation

export interface EvaluatedCustomer extends Omit<LoadedCustomer, 'sources'> {
  entries: AccessEntry[];
}

/** Loads and evaluates the customers named by `keys` at `now`: two statements at most. */
export async function evaluate(
  em: EntityManager,
  keys: string[],
  mode: MatchMode,
  now: Date,
  featureKeys?: string[],
): Promise<EvaluatedCustomer[]> {
  const customers = await loadCustomers(em, keys, mode, now, featureKeys);
  const items: { item: UsageItem; src: LoadedSource }[] = [];
  const noMeter: LoadedSource[] = [];
  for (const c of customers)
    for (const s of c.sources) {
      if (s.template.type !== 'metered') continue;
      if (!s.meter) {
        noMeter.push(s);
        continue;
      }
      const w = usageWindow(s, now);
      items.push({
        src: s,
        item: {
          meter: s.meter,
          subjects: c.subjects,
          from: w.usage_from,
          to: w.usage_to,
          filters: s.filters,
        },
      });
    }
  const usage = await usageOf(
    em,
    items.map((x) => x.item),
  );
  const usageBySrc = new Map<LoadedSource, string>(items.map((x) => [x.src, usage.get(itemKey(x.item))!]));
  // a metered template whose feature lost its meter: nothing can be counted
  for (const s of noMeter) usageBySrc.set(s, '0');
  return customers.map(({ sources, ...c }) => ({
    ...c,
    entries: mergeEntries(sources.map((s) => accessEntry(s, now, usageBySrc.get(s)))),
  }));
}

// ---------------------------------------------------------------------------------------------------
// API

/**
 * GET /customers/{customerId}/entitlement-access: the customer by id when `customerId` is shaped like one,
 * else by key; 404 if missing.
 */
export async function customerAccess(
  em: EntityManager,
  idOrKey: string,
  now: Date = new Date(),
): Promise<{ data: AccessEntry[] }> {
  const [c] = await evaluate(em, [idOrKey], 'id_or_key', now);
  if (!c) throw notFound('customer', idOrKey);
  return { data: c.entries };
}

export interface AccessQuery {
  customer: { keys: string[] };
  feature?: { keys: string[] };
}

export type ReasonCode = 'usage_limit_reached' | 'feature_unavailable';

export interface FeatureAccess {
  has_access: boolean;
  /** absent for a requested feature the customer is not entitled to */
  type?: EntitlementType;
  reason?: { code: ReasonCode; message: string };
  limit?: string;
  usage?: string;
  balance?: string;
}

export interface AccessQueryResult {
  data: {
    matched: string[];
    customer: { id: string; key: string; name: string };
    features: Record<string, FeatureAccess>;
    updated_at: string;
  }[];
  errors: { code: 'customer_not_found'; message: string; customer: string }[];
}

function featureAccess(e: AccessEntry): FeatureAccess {
  const out: FeatureAccess = { has_access: e.has_access, type: e.type };
  if (e.type === 'metered') {
    if (e.limit !== undefined) out.limit = e.limit;
    if (e.usage !== undefined) out.usage = e.usage;
    if (e.balance !== undefined) out.balance = e.balance;
    if (!e.has_access)
      out.reason = {
        code: 'usage_limit_reached',
        message:
          `usage ${e.usage} has reached the limit ${e.limit} for the usage period ` +
          `${e.current_usage_period?.from} – ${e.current_usage_period?.to}`,
      };
  }
  return out;
}

/**
 * POST /entitlement-access/query: customers by key or usage-attribution subject key; every requested
 * feature (or, without `feature`, every entitled feature) per customer; unknown keys as errors.
 */
export async function queryAccess(
  em: EntityManager,
  query: AccessQuery,
  now: Date = new Date(),
): Promise<AccessQueryResult> {
  const featureKeys = query.feature ? [...new Set(query.feature.keys)] : undefined;
  const customers = await evaluate(em, query.customer.keys, 'key_or_subject', now, featureKeys);
  const matched = new Set(customers.flatMap((c) => c.matched));
  const updated_at = now.toISOString();
  return {
    data: customers.map((c) => {
      const features: Record<string, FeatureAccess> = {};
      for (const e of c.entries) features[e.feature_key] = featureAccess(e);
      for (const k of featureKeys ?? [])
        features[k] ??= {
          has_access: false,
          reason: { code: 'feature_unavailable', message: `feature ${k} is not in the customer's plan` },
        };
      return { matched: c.matched, customer: { id: c.id, key: c.key, name: c.name }, features, updated_at };
    }),
    errors: [...new Set(query.customer.keys)]
      .filter((k) => !matched.has(k))
      .map((k) => ({
        code: 'customer_not_found' as const,
        message: `no customer has the key or usage-attribution subject ${k}`,
        customer: k,
      })),
  };
}

export function createEntitlementsService(deps: Pick<AppDeps, 'orm'>) {
  return {
    customerAccess: (idOrKey: string, now?: Date) => customerAccess(deps.orm.em.fork(), idOrKey, now),
    queryAccess: (query: AccessQuery, now?: Date) => queryAccess(deps.orm.em.fork(), query, now),
  };
}
