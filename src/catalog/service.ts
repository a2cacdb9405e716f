/**
 * Catalog service: features and versioned plans.
 *
 * Plans are versioned by key: one `plans` row per version. Creating a plan with an existing key creates the
 * next version as a draft (at most one draft per key). Publishing a draft makes it the active version
 * (effective_from = now) and archives the previously active one (effective_to = now) in one transaction.
 * Drafts are editable; active and archived versions are immutable.
 *
 * Functions take the caller's EntityManager (a request fork, or a transaction's) so that billing and
 * subscriptions can call them inside their own transactions.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { invalid, conflict, gone, notFound, type InvalidParam } from '../lib/errors';
import { idOrKey as lookupOf, newId } from '../lib/ids';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { minDurationMs, parseDuration } from './periods';
import type { Feature, FeatureMeterFilter, Plan, PlanPhase, PlanStatus, Price, RateCard } from './types';

export type { EntitlementTemplate, Feature, Plan, PlanPhase, PlanStatus, Price, RateCard } from './types';

type Row = Record<string, unknown>;

const iso = (v: unknown): string | undefined =>
  v == null ? undefined : v instanceof Date ? v.toISOString() : new Date(v as string).toISOString();

function isUniqueViolation(e: unknown): boolean {
  return (
    e instanceof UniqueConstraintViolationException ||
    (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === '23505')
  );
}

// ---------------------------------------------------------------------------------------------------------
// Features

export interface FeatureInput {
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  meter?: { id: string; filters?: Record<string, FeatureMeterFilter> };
}

function toFeature(r: Row): Feature {
  const filters = r.meter_filters as Record<string, FeatureMeterFilter> | null;
  return {
    id: r.id as string,
    key: r.key as string,
    name: r.name as string,
    ...(r.description != null ? { description: r.description as string } : {}),
    ...(r.labels != null ? { labels: r.labels as Record<string, string> } : {}),
    ...(r.meter_id != null ? { meter: { id: r.meter_id as string, ...(filters ? { filters } : {}) } } : {}),
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
    ...(r.deleted_at != null ? { deleted_at: iso(r.deleted_at) } : {}),
  };
}

/**
 * A feature by id (live or archived: plans and subscriptions keep referencing archived features) or by
 * key (live only). Null when there is none.
 */
export async function findFeature(em: EntityManager, idOrKey: string): Promise<Feature | null> {
  const r = lookupOf(idOrKey);
  const rows = await em.execute<Row[]>(
    'id' in r
      ? 'select * from features where id = ?'
      : 'select * from features where key = ? and deleted_at is null',
    ['id' in r ? r.id : r.key],
  );
  return rows[0] ? toFeature(rows[0]) : null;
}

/** Like `findFeature`, but a NotFoundError when there is none. Archived features have `deleted_at`. */
export async function getFeature(em: EntityManager, idOrKey: string): Promise<Feature> {
  const f = await findFeature(em, idOrKey);
  if (!f) throw notFound('feature', idOrKey);
  return f;
}

interface MeterRow {
  id: string;
  dimensions: unknown;
}

/**
 * A live meter by id or key (a feature may name its meter either way; the id is stored): by id when the
 * string is shaped like one, else by key.
 */
async function findMeter(em: EntityManager, idOrKey: string): Promise<MeterRow | null> {
  const r = lookupOf(idOrKey);
  const rows = await em.execute<Row[]>(
    `select id, dimensions from meters where ${'id' in r ? 'id' : 'key'} = ? and deleted_at is null`,
    ['id' in r ? r.id : r.key],
  );
  return rows[0] ? { id: rows[0].id as string, dimensions: rows[0].dimensions } : null;
}

function dimensionNames(d: unknown): string[] {
  if (Array.isArray(d)) return d.map(String);
  if (d && typeof d === 'object') return Object.keys(d);
  return [];
}

export async function createFeature(em: EntityManager, input: FeatureInput): Promise<Feature> {
  let meterId: string | null = null;
  if (input.meter) {
    const meter = await findMeter(em, input.meter.id);
    if (!meter)
      throw invalid('the referenced meter does not exist', [
        { field: 'body.meter.id', reason: `meter ${input.meter.id} not found` },
      ]);
    const dims = dimensionNames(meter.dimensions);
    const bad: InvalidParam[] = Object.keys(input.meter.filters ?? {})
      .filter((k) => !dims.includes(k))
      .map((k) => ({
        field: `body.meter.filters.${k}`,
        reason: `the meter has no dimension ${k} (dimensions: ${dims.join(', ') || 'none'})`,
      }));
    if (bad.length) throw invalid('feature meter filters are invalid', bad);
    meterId = meter.id;
  }
  const id = newId();
  const filters =
    input.meter?.filters && Object.keys(input.meter.filters).length ? input.meter.filters : null;
  try {
    await em.execute(
      `insert into features (id, key, name, description, labels, meter_id, meter_filters)
       values (?, ?, ?, ?, ?::jsonb, ?, ?::jsonb)`,
      [
        id,
        input.key,
        input.name,
        input.description ?? null,
        input.labels ? JSON.stringify(input.labels) : null,
        meterId,
        filters ? JSON.stringify(filters) : null,
      ],
    );
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`a feature with key ${input.key} already exists`);
    throw e;
  }
  return getFeature(em, id);
}

export interface FeatureListQuery {
  page: PageParams;
  key?: string[];
  meter_id?: string[];
  name?: string[];
}

/** One page of live rows of `table` whose columns equal any of the given values, oldest first. */
async function listLive<T>(
  em: EntityManager,
  table: 'features' | 'plans',
  filters: [column: string, values: readonly string[] | undefined][],
  page: PageParams,
  map: (r: Row) => T,
): Promise<Page<T>> {
  const where = ['deleted_at is null'];
  const params: unknown[] = [];
  for (const [col, values] of filters) {
    if (values?.length) {
      where.push(`${col} in (${values.map(() => '?').join(', ')})`);
      params.push(...values);
    }
  }
  const w = where.join(' and ');
  const { limit, offset } = pageOffset(page);
  const [{ total }] = await em.execute<{ total: string }[]>(
    `select count(*)::text as total from ${table} where ${w}`,
    params,
  );
  const rows = await em.execute<Row[]>(
    `select * from ${table} where ${w} order by created_at, id limit ? offset ?`,
    [...params, limit, offset],
  );
  return toPage(rows.map(map), Number(total), page);
}

export function listFeatures(em: EntityManager, q: FeatureListQuery): Promise<Page<Feature>> {
  return listLive(
    em,
    'features',
    [
      ['key', q.key],
      ['meter_id', q.meter_id],
      ['name', q.name],
    ],
    q.page,
    toFeature,
  );
}

/** Archives (soft-deletes) a live feature; 404 when missing, 410 when already archived. */
export async function archiveFeature(em: EntityManager, idOrKey: string): Promise<void> {
  const f = await getFeature(em, idOrKey);
  if (f.deleted_at) throw gone('feature', f.id);
  await em.execute(
    'update features set deleted_at = now(), updated_at = now() where id = ? and deleted_at is null',
    [f.id],
  );
}

// ---------------------------------------------------------------------------------------------------------
// Plans

export interface PlanInput {
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  currency: string;
  billing_cadence: string;
  pro_rating_enabled?: boolean;
  phases: PlanPhaseInput[];
}

export interface PlanUpdateInput {
  name: string;
  description?: string;
  labels?: Record<string, string>;
  pro_rating_enabled?: boolean;
  phases: PlanPhaseInput[];
}

export interface PlanPhaseInput extends Omit<PlanPhase, 'rate_cards'> {
  rate_cards: RateCardInput[];
}

export interface RateCardInput extends Omit<RateCard, 'billing_cadence' | 'payment_term'> {
  billing_cadence?: string | null;
  payment_term?: RateCard['payment_term'];
}

function toPlan(r: Row): Plan {
  return {
    id: r.id as string,
    key: r.key as string,
    version: Number(r.version),
    status: r.status as PlanStatus,
    name: r.name as string,
    ...(r.description != null ? { description: r.description as string } : {}),
    ...(r.labels != null ? { labels: r.labels as Record<string, string> } : {}),
    currency: (r.currency as string).trim(),
    billing_cadence: r.billing_cadence as string,
    pro_rating_enabled: r.pro_rating_enabled as boolean,
    ...(r.effective_from != null ? { effective_from: iso(r.effective_from) } : {}),
    ...(r.effective_to != null ? { effective_to: iso(r.effective_to) } : {}),
    phases: r.phases as PlanPhase[],
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
  };
}

const sameDuration = (a: string, b: string): boolean =>
  JSON.stringify(parseDuration(a)) === JSON.stringify(parseDuration(b));

const isUsagePrice = (p: Price): boolean =>
  p.type === 'unit' || p.type === 'graduated' || p.type === 'volume';

/**
 * Checks what the schema cannot: phase durations, tier order, price/cadence/payment-term combinations,
 * the referenced features. Returns the normalized phases (feature ids, defaults filled in).
 */
async function checkPhases(
  em: EntityManager,
  phases: PlanPhaseInput[],
  planCadence: string | undefined,
): Promise<PlanPhase[]> {
  const errs: InvalidParam[] = [];
  const err = (field: string, reason: string) => errs.push({ field: `body.${field}`, reason });
  const featureCache = new Map<string, Feature | null>();
  const out: PlanPhase[] = [];

  if (planCadence !== undefined && minDurationMs(planCadence) < 60_000) {
    err('billing_cadence', 'must be at least PT1M');
    planCadence = undefined; // reported once, not again on every usage rate card
  }

  const phaseKeys = new Set<string>();
  for (const [pi, phase] of phases.entries()) {
    const pp = `phases[${pi}]`;
    if (phaseKeys.has(phase.key)) err(`${pp}.key`, `duplicate phase key ${phase.key}`);
    phaseKeys.add(phase.key);
    if (phase.duration === undefined && pi < phases.length - 1)
      err(`${pp}.duration`, 'only the last phase may omit its duration');
    if (phase.duration !== undefined && minDurationMs(phase.duration) < 60_000)
      err(`${pp}.duration`, 'must be at least PT1M');

    const rcKeys = new Set<string>();
    const rateCards: RateCard[] = [];
    for (const [ri, rc] of phase.rate_cards.entries()) {
      const rp = `${pp}.rate_cards[${ri}]`;
      if (rcKeys.has(rc.key)) err(`${rp}.key`, `duplicate rate card key ${rc.key} in the phase`);
      rcKeys.add(rc.key);

      let feature: Feature | null = null;
      if (rc.feature) {
        if (!featureCache.has(rc.feature.id))
          featureCache.set(rc.feature.id, await findFeature(em, rc.feature.id));
        feature = featureCache.get(rc.feature.id) ?? null;
        if (!feature || feature.deleted_at) err(`${rp}.feature.id`, `feature ${rc.feature.id} not found`);
      }
      const price = rc.price;
      const usage = isUsagePrice(price);
      const cadence = rc.billing_cadence ?? null;
      if (cadence !== null && minDurationMs(cadence) < 60_000)
        err(`${rp}.billing_cadence`, 'must be at least PT1M');
      if (usage) {
        if (!rc.feature) err(`${rp}.feature`, `a ${price.type} price needs a feature with a meter`);
        else if (feature && !feature.deleted_at && !feature.meter)
          err(
            `${rp}.feature.id`,
            `a ${price.type} price needs a metered feature; ${feature.key} has no meter`,
          );
        if (cadence === null) err(`${rp}.billing_cadence`, `a ${price.type} price needs a billing cadence`);
      }
      // every recurring rate card is billed on the plan's periods: a different cadence would be charged
      // once per plan period (e.g. a yearly fee every month), so it is refused
      if (cadence !== null && planCadence !== undefined && !sameDuration(cadence, planCadence))
        err(
          `${rp}.billing_cadence`,
          `a recurring rate card must be billed at the plan cadence ${planCadence} (or be one-time: null)`,
        );
      const paymentTerm = rc.payment_term ?? 'in_arrears';
      if (paymentTerm === 'in_advance' && usage)
        err(`${rp}.payment_term`, 'in_advance is only allowed for flat prices');

      if (price.type === 'graduated' || price.type === 'volume') {
        let prevStr: string | undefined;
        for (const [ti, tier] of price.tiers.entries()) {
          const tp = `${rp}.price.tiers[${ti}]`;
          if (!tier.flat_price && !tier.unit_price) err(tp, 'a tier needs a flat_price or a unit_price');
          if (tier.up_to_amount === undefined) {
            if (ti < price.tiers.length - 1) err(`${tp}.up_to_amount`, 'only the last tier may be open');
            continue;
          }
          if (!decimalGreater(tier.up_to_amount, '0')) err(`${tp}.up_to_amount`, 'must be greater than 0');
          // compared as decimals: equal or descending bounds are invalid
          else if (prevStr !== undefined && !decimalGreater(tier.up_to_amount, prevStr))
            err(`${tp}.up_to_amount`, `must be greater than the previous tier's ${prevStr}`);
          prevStr = tier.up_to_amount;
        }
      }

      const ent = rc.entitlement;
      if (ent) {
        if (!rc.feature) err(`${rp}.entitlement`, 'an entitlement needs the rate card to have a feature');
        else if (ent.type === 'metered' && feature && !feature.deleted_at && !feature.meter)
          err(
            `${rp}.entitlement`,
            `a metered entitlement needs a metered feature; ${feature.key} has no meter`,
          );
        if (
          ent.type === 'metered' &&
          ent.usage_period !== undefined &&
          minDurationMs(ent.usage_period) < 60_000
        )
          err(`${rp}.entitlement.usage_period`, 'must be at least PT1M');
      }

      rateCards.push({
        key: rc.key,
        name: rc.name,
        ...(rc.description !== undefined ? { description: rc.description } : {}),
        ...(rc.labels !== undefined ? { labels: rc.labels } : {}),
        ...(rc.feature ? { feature: { id: feature?.id ?? rc.feature.id } } : {}),
        billing_cadence: cadence,
        payment_term: paymentTerm,
        price,
        ...(ent ? { entitlement: ent } : {}),
      });
    }
    out.push({
      key: phase.key,
      name: phase.name,
      ...(phase.description !== undefined ? { description: phase.description } : {}),
      ...(phase.labels !== undefined ? { labels: phase.labels } : {}),
      ...(phase.duration !== undefined ? { duration: phase.duration } : {}),
      rate_cards: rateCards,
    });
  }
  if (errs.length) throw invalid('the plan is invalid', errs);
  return out;
}

/** a > b for non-negative decimal strings, without floating point */
function decimalGreater(a: string, b: string): boolean {
  const norm = (s: string): [string, string] => {
    const [i, f = ''] = s.split('.');
    return [i.replace(/^0+(?=\d)/, ''), f.replace(/0+$/, '')];
  };
  const [ai, af] = norm(a);
  const [bi, bf] = norm(b);
  if (ai.length !== bi.length) return ai.length > bi.length;
  if (ai !== bi) return ai > bi;
  const len = Math.max(af.length, bf.length);
  return af.padEnd(len, '0') > bf.padEnd(len, '0');
}

/** A plan version by id (any status); 404 when missing, 410 when it was a deleted draft. */
export async function getPlan(em: EntityManager, id: string): Promise<Plan> {
  const rows = await em.execute<Row[]>('select * from plans where id = ?', [id]);
  if (!rows[0]) throw notFound('plan', id);
  if (rows[0].deleted_at != null) throw gone('plan', id);
  return toPlan(rows[0]);
}

/** The key of a plan version, deleted ones included (billing names one-time fees by plan key); null if unknown. */
export async function findPlanKey(em: EntityManager, id: string): Promise<string | null> {
  const rows = await em.execute<{ key: string }[]>('select key from plans where id = ?', [id]);
  return rows[0]?.key ?? null;
}

export type PlanRef = { id: string } | { key: string; version?: number };

/**
 * A plan by id, by key and version, or by key alone: the latest active version. 404 when there is no such
 * plan; 409 when the key exists but has no active version (only drafts or archived versions).
 */
export async function resolvePlan(em: EntityManager, ref: PlanRef): Promise<Plan> {
  if ('id' in ref) return getPlan(em, ref.id);
  if (ref.version !== undefined) {
    const rows = await em.execute<Row[]>(
      'select * from plans where key = ? and version = ? and deleted_at is null',
      [ref.key, ref.version],
    );
    if (!rows[0]) throw notFound('plan', `${ref.key} version ${ref.version}`);
    return toPlan(rows[0]);
  }
  const rows = await em.execute<Row[]>(
    "select * from plans where key = ? and status = 'active' and deleted_at is null",
    [ref.key],
  );
  if (rows[0]) return toPlan(rows[0]);
  const any = await em.execute<Row[]>('select 1 from plans where key = ? and deleted_at is null limit 1', [
    ref.key,
  ]);
  if (!any.length) throw notFound('plan', ref.key);
  throw conflict(`plan ${ref.key} has no active version; publish one first`);
}

export async function createPlan(em: EntityManager, input: PlanInput): Promise<Plan> {
  const phases = await checkPhases(em, input.phases, input.billing_cadence);
  const id = newId();
  try {
    await em.transactional(async (tx) => {
      // serialize version numbering per key
      await tx.execute('select pg_advisory_xact_lock(hashtext(?))', [`plans:${input.key}`]);
      const draft = await tx.execute<Row[]>(
        "select id, version from plans where key = ? and status = 'draft' and deleted_at is null",
        [input.key],
      );
      if (draft[0])
        throw conflict(
          `plan ${input.key} already has a draft (version ${String(draft[0].version)}, id ${String(draft[0].id)}); ` +
            'publish or delete it first',
        );
      const [{ next }] = await tx.execute<{ next: number }[]>(
        'select coalesce(max(version), 0) + 1 as next from plans where key = ?',
        [input.key],
      );
      await tx.execute(
        `insert into plans (id, key, version, status, name, description, labels, currency, billing_cadence,
                            pro_rating_enabled, phases)
         values (?, ?, ?, 'draft', ?, ?, ?::jsonb, ?, ?, ?, ?::jsonb)`,
        [
          id,
          input.key,
          next,
          input.name,
          input.description ?? null,
          input.labels ? JSON.stringify(input.labels) : null,
          input.currency,
          input.billing_cadence,
          input.pro_rating_enabled ?? true,
          JSON.stringify(phases),
        ],
      );
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`plan ${input.key} already has a draft`);
    throw e;
  }
  return getPlan(em, id);
}

function assertDraft(p: Plan, action: string): void {
  if (p.status !== 'draft')
    throw conflict(`plan ${p.key} version ${p.version} is ${p.status}: only drafts can be ${action}`);
}

export async function updatePlan(em: EntityManager, id: string, input: PlanUpdateInput): Promise<Plan> {
  const current = await getPlan(em, id);
  assertDraft(current, 'updated');
  const phases = await checkPhases(em, input.phases, current.billing_cadence);
  const res = await em.execute<Row[]>(
    `update plans set name = ?, description = ?, labels = ?::jsonb, pro_rating_enabled = ?, phases = ?::jsonb,
            updated_at = now()
     where id = ? and status = 'draft' and deleted_at is null returning id`,
    [
      input.name,
      input.description ?? null,
      input.labels ? JSON.stringify(input.labels) : null,
      input.pro_rating_enabled ?? current.pro_rating_enabled,
      JSON.stringify(phases),
      id,
    ],
  );
  if (!res.length) throw conflict(`plan ${id} is no longer a draft`);
  return getPlan(em, id);
}

/** draft → active (effective_from = now); the previously active version of the key is archived. */
export async function publishPlan(em: EntityManager, id: string): Promise<Plan> {
  const current = await getPlan(em, id);
  assertDraft(current, 'published');
  try {
    await em.transactional(async (tx) => {
      await tx.execute('select pg_advisory_xact_lock(hashtext(?))', [`plans:${current.key}`]);
      await tx.execute(
        "update plans set status = 'archived', effective_to = now(), updated_at = now() where key = ? and status = 'active'",
        [current.key],
      );
      const res = await tx.execute<Row[]>(
        `update plans set status = 'active', effective_from = now(), effective_to = null, updated_at = now()
         where id = ? and status = 'draft' and deleted_at is null returning id`,
        [id],
      );
      if (!res.length) throw conflict(`plan ${id} is no longer a draft`);
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`plan ${current.key} was published concurrently`);
    throw e;
  }
  return getPlan(em, id);
}

/** active → archived (effective_to = now). */
export async function archivePlan(em: EntityManager, id: string): Promise<Plan> {
  const current = await getPlan(em, id);
  if (current.status !== 'active')
    throw conflict(
      `plan ${current.key} version ${current.version} is ${current.status}: only active plans can be archived`,
    );
  await em.execute(
    "update plans set status = 'archived', effective_to = now(), updated_at = now() where id = ? and status = 'active'",
    [id],
  );
  return getPlan(em, id);
}

/** DELETE: a draft is deleted; an active version is archived; an archived version stays as it is. */
export async function deletePlan(em: EntityManager, id: string): Promise<void> {
  const current = await getPlan(em, id);
  if (current.status === 'draft')
    await em.execute(
      "update plans set deleted_at = now(), updated_at = now() where id = ? and status = 'draft'",
      [id],
    );
  else if (current.status === 'active') await archivePlan(em, id);
}

export interface PlanListQuery {
  page: PageParams;
  key?: string[];
  status?: PlanStatus[];
  currency?: string[];
  name?: string[];
}

export function listPlans(em: EntityManager, q: PlanListQuery): Promise<Page<Plan>> {
  return listLive(
    em,
    'plans',
    [
      ['key', q.key],
      ['status', q.status],
      ['currency', q.currency],
      ['name', q.name],
    ],
    q.page,
    toPlan,
  );
}
