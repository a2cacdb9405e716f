/**
 * Entitlements, derived: a customer's entitlements are the entitlement templates of the rate cards in the
 * current phase of its active subscription(s), read from the `subscriptions` row that the subscription
 * workflow's activities write at the exact instant a subscription starts, changes phase, migrates,
 * changes plan or is canceled. There is no second source of truth (no entitlements table: this domain owns
 * no table), so access follows billing at the same instant.
 *
 * A subscription counts when `status = 'active'` and `active_from <= now < active_to` (active_to when set).
 *
 * Every evaluation, for one customer or up to a hundred, is TWO SQL statements:
 *  1. the entitlement access read model (`read-model.ts`): customers (by key/subject, or id/key) + their
 *     active subscriptions + the phase's rate cards with an entitlement template and a feature (+ the
 *     feature's meter), in one statement;
 *  2. the usage of every metered entitlement, as one `union all` of metering's exact meter query
 *     (`buildMeterQuery`) per (meter, filters, subjects, window) — the same SQL `aggregateUsage` runs.
 * Statement 2 is skipped when nothing metered is in force. No cache: answers are always current.
 *
 * The routes use `createEntitlementsService(deps)`; the evaluation itself is pure (`evaluate.ts`), the API
 * shapes are in `views.ts`.
 */
import type { EntityManager } from '@mikro-orm/core';
import type { SubjectWindow } from '../customers/service';
import type { AppDeps } from '../deps';
import { execPrepared } from '../db/prepared';
import { Sql } from '../db/sql';
import { notFound } from '../lib/errors';
import { billableUsage, buildMeterQuery, type DimensionFilter, type MeterDto } from '../metering/service';
import { normalizeTs } from '../metering/time';
import { accessEntry, mergeEntries, usageWindow, type AccessEntry } from './evaluate';
import {
  loadAccessSources,
  type LoadedCustomer,
  type LoadedSource,
  type MatchMode,
  type MeterInfo,
} from './read-model';
import { accessQueryView, customerAccessView, type AccessQueryResult, type EvaluatedAccess } from './views';

export type { AccessEntry } from './evaluate';
export type { MatchMode, MeterInfo } from './read-model';
export type { AccessQueryResult, FeatureAccess, ReasonCode } from './views';

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

/** The meter as metering's query builder takes it (only the fields the query reads matter). */
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
  const rows = await execPrepared<{ i: number; value: string | null }>(em, q);
  for (const k of keys) out.set(k, '0');
  // usage is never negative for an entitlement (billableUsage): corrections cannot grant extra balance
  for (const r of rows) out.set(keys[Number(r.i)], billableUsage(r.value ?? '0'));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// evaluation

export interface EvaluatedCustomer extends Omit<LoadedCustomer, 'sources'>, EvaluatedAccess {
  entries: AccessEntry[];
}

/** Loads and evaluates the customers named by `keys` at `now`: two statements at most. */
async function evaluate(
  em: EntityManager,
  keys: string[],
  mode: MatchMode,
  now: Date,
  featureKeys?: string[],
): Promise<EvaluatedCustomer[]> {
  const customers = await loadAccessSources(em, keys, mode, now, featureKeys);
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

/** One metered entitlement in force, unmerged (per subscription), with its usage now. */
export interface MeteredEntitlement {
  customer: { id: string; key: string; name: string };
  subjects: string[];
  subscription_id: string;
  /** the subscription's start and its current phase's (a usage period starting after both is a reset) */
  active_from: Date;
  phase_started_at: Date;
  entry: AccessEntry;
}

/**
 * The metered entitlements in force at `now` of the customers that `subjects` (usage-attribution subject
 * keys or customer keys; with `mode` `id_or_key`: customer ids or keys) name, one per subscription ×
 * feature, with their usage: two statements, for up to a hundred subjects. For the balance-threshold
 * notifications (issue 12), evaluated after ingest, and the usage-period resets (`entitlements.reset`).
 */
export async function meteredEntitlementsOf(
  em: EntityManager,
  subjects: string[],
  now: Date,
  mode: MatchMode = 'key_or_subject',
): Promise<MeteredEntitlement[]> {
  const customers = await loadAccessSources(em, subjects, mode, now);
  const items: { item: UsageItem; src: LoadedSource; c: LoadedCustomer }[] = [];
  for (const c of customers)
    for (const s of c.sources) {
      if (s.template.type !== 'metered' || !s.meter) continue;
      const w = usageWindow(s, now);
      items.push({
        c,
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
  return items.map(({ c, src, item }) => ({
    customer: { id: c.id, key: c.key, name: c.name },
    subjects: [...new Set(c.subjects.map((s) => s.subject))],
    subscription_id: src.subscription_id,
    active_from: src.active_from,
    phase_started_at: src.phase_started_at,
    entry: accessEntry(src, now, usage.get(itemKey(item))),
  }));
}

// ---------------------------------------------------------------------------------------------------
// API

/**
 * GET /customers/{customerId}/entitlement-access: the customer by id when `customerId` is shaped like one,
 * else by key; NotFoundError if missing.
 */
async function customerAccess(
  em: EntityManager,
  idOrKey: string,
  now: Date,
): Promise<{ data: AccessEntry[] }> {
  const [c] = await evaluate(em, [idOrKey], 'id_or_key', now);
  if (!c) throw notFound('customer', idOrKey);
  return customerAccessView(c.entries);
}

export interface AccessQuery {
  customer: { keys: string[] };
  feature?: { keys: string[] };
}

/**
 * POST /entitlement-access/query: customers by key or usage-attribution subject key; every requested
 * feature (or, without `feature`, every entitled feature) per customer; unknown keys as errors.
 */
async function queryAccess(em: EntityManager, query: AccessQuery, now: Date): Promise<AccessQueryResult> {
  const featureKeys = query.feature ? [...new Set(query.feature.keys)] : undefined;
  const customers = await evaluate(em, query.customer.keys, 'key_or_subject', now, featureKeys);
  return accessQueryView(customers, query.customer.keys, featureKeys, now);
}

/**
 * Entitlements as the routes use them, on the request's EntityManager (`deps.orm.em` under the API's
 * RequestContext; callers outside a request run it inside `RequestContext.create`); `now` defaults to the
 * clock.
 */
export function createEntitlementsService(deps: Pick<AppDeps, 'orm'>) {
  const em = (): EntityManager => deps.orm.em;
  return {
    customerAccess: (idOrKey: string, now: Date = new Date()) => customerAccess(em(), idOrKey, now),
    queryAccess: (query: AccessQuery, now: Date = new Date()) => queryAccess(em(), query, now),
  };
}

export type EntitlementsService = ReturnType<typeof createEntitlementsService>;
