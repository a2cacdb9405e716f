/**
 * Catalog service: features and versioned plans (tables `features`, `plans`).
 *
 * Plans are versioned by key: one `plans` row per version. Creating a plan with an existing key creates the
 * next version as a draft (at most one draft per key). Publishing a draft makes it the active version
 * (effective_from = now) and archives the previously active one (effective_to = now) in one transaction.
 * Drafts are editable; active and archived versions are immutable.
 *
 * The routes use `createCatalogService(deps)`. The free functions exported here (`getFeature`,
 * `findFeatures`, `getPlan`, `resolvePlan`) take the caller's EntityManager (a request fork,
 * or a transaction's) so that billing and subscriptions can call them inside their own transactions.
 * Plan validation is the pure `validatePlan` (`validate.ts`) over the features loaded in one query.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppDeps } from '../deps';
import { exec, isUniqueViolation, Sql } from '../db/sql';
import { conflict, gone, invalid, notFound, NotFoundError, type InvalidParam } from '../lib/errors';
import { idOrKey as lookupOf, newId } from '../lib/ids';
import { orderBy, whereFilter, whereLabels, type FieldFilter, type SortKey } from '../lib/list-query';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { getMeter } from '../metering/service';
import { liveSubscriptionCount } from '../subscriptions/queries';
import type { Feature, Plan, PlanPhase } from './types';
import { featureRefs, validatePlan, type PlanPhaseInput } from './validate';
import { archiveVersion, assertDraft, nextDraftVersion, PLAN_KIND, publishVersion } from './versioning';
import {
  deriveVersion,
  errorField,
  originsOf,
  type DeriveError,
  type ItemOrigins,
  type ItemSource,
  type RateCardChange,
} from './derive';
import {
  featureView,
  planView,
  subscriptionVersionView,
  type FeatureRow,
  type PlanRow,
  type SubscriptionPlanVersion,
} from './views';

export type { EntitlementTemplate, Feature, Plan, PlanPhase, PlanStatus, Price, RateCard } from './types';
export type { PlanPhaseInput, RateCardInput } from './validate';
export type { ItemOrigin, ItemOrigins, ItemSource, RateCardChange } from './derive';
export type { SubscriptionPlanVersion } from './views';

export { isUniqueViolation } from '../db/sql';

// ---------------------------------------------------------------------------------------------------------
// Features

export type FeatureInput = Pick<Feature, 'key' | 'name' | 'description' | 'labels' | 'meter' | 'unit_cost'>;

/**
 * A feature by id (live or archived: plans and subscriptions keep referencing archived features) or by
 * key (live only). Null when there is none.
 */
async function findFeature(em: EntityManager, idOrKey: string): Promise<Feature | null> {
  return (await findFeatures(em, [idOrKey])).get(idOrKey) ?? null;
}

/**
 * The features named by `refs` (each an id or a key, looked up as `findFeature` does), in ONE query, keyed
 * by the reference as given; references that name no feature are absent.
 */
export async function findFeatures(
  em: EntityManager,
  refs: readonly string[],
): Promise<Map<string, Feature>> {
  const out = new Map<string, Feature>();
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const ref of refs) {
    const r = lookupOf(ref);
    if ('id' in r) ids.add(r.id);
    else keys.add(r.key);
  }
  if (ids.size === 0 && keys.size === 0) return out;
  const q = new Sql().add('select * from features where ');
  if (ids.size) q.add('id in ').list([...ids]);
  if (ids.size && keys.size) q.add(' or ');
  if (keys.size)
    q.add('(deleted_at is null and key in ')
      .list([...keys])
      .add(')');
  const rows = await exec<FeatureRow>(em, q);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const byKey = new Map(rows.filter((r) => r.deleted_at == null).map((r) => [r.key, r]));
  for (const ref of refs) {
    const r = lookupOf(ref);
    const row = 'id' in r ? byId.get(r.id) : byKey.get(r.key);
    if (row) out.set(ref, featureView(row));
  }
  return out;
}

/** Like `findFeature`, but a NotFoundError when there is none. Archived features have `deleted_at`. */
export async function getFeature(em: EntityManager, idOrKey: string): Promise<Feature> {
  const f = await findFeature(em, idOrKey);
  if (!f) throw notFound('feature', idOrKey);
  return f;
}

function dimensionNames(d: unknown): string[] {
  if (Array.isArray(d)) return d.map(String);
  if (d && typeof d === 'object') return Object.keys(d);
  return [];
}

/** The live meter a new feature names (by id or key, through metering), its filters checked against it. */
async function featureMeter(em: EntityManager, meter: NonNullable<FeatureInput['meter']>): Promise<string> {
  let found;
  try {
    found = await getMeter(em, meter.id);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    throw invalid('the referenced meter does not exist', [
      { field: 'body.meter.id', reason: `meter ${meter.id} not found` },
    ]);
  }
  const dims = dimensionNames(found.dimensions);
  const bad: InvalidParam[] = Object.keys(meter.filters ?? {})
    .filter((k) => !dims.includes(k))
    .map((k) => ({
      field: `body.meter.filters.${k}`,
      reason: `the meter has no dimension ${k} (dimensions: ${dims.join(', ') || 'none'})`,
    }));
  if (bad.length) throw invalid('feature meter filters are invalid', bad);
  return found.id;
}

async function createFeature(em: EntityManager, input: FeatureInput): Promise<Feature> {
  const meterId = input.meter ? await featureMeter(em, input.meter) : null;
  const id = newId();
  const filters =
    input.meter?.filters && Object.keys(input.meter.filters).length ? input.meter.filters : null;
  try {
    await exec(
      em,
      new Sql().add(
        `insert into features (id, key, name, description, labels, meter_id, meter_filters, unit_cost)
         values (?, ?, ?, ?, ?::jsonb, ?, ?::jsonb, ?::jsonb)`,
        id,
        input.key,
        input.name,
        input.description ?? null,
        input.labels ? JSON.stringify(input.labels) : null,
        meterId,
        filters ? JSON.stringify(filters) : null,
        input.unit_cost !== undefined ? JSON.stringify(input.unit_cost) : null,
      ),
    );
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`a feature with key ${input.key} already exists`);
    throw e;
  }
  return getFeature(em, id);
}

export interface FeatureListQuery {
  page: PageParams;
  key?: FieldFilter;
  meter_id?: FieldFilter;
  name?: FieldFilter;
  labels?: Record<string, FieldFilter>;
  sort?: SortKey<CatalogSortField>[];
}

export const FEATURE_SORT_FIELDS = ['key', 'name', 'created_at', 'updated_at'] as const;
export const PLAN_SORT_FIELDS = ['id', 'key', 'version', 'name', 'created_at', 'updated_at'] as const;
export type CatalogSortField = (typeof PLAN_SORT_FIELDS)[number];
const CATALOG_SORT_COLUMNS: Record<CatalogSortField, string> = {
  id: 'id',
  key: 'key',
  version: 'version',
  name: 'name',
  created_at: 'created_at',
  updated_at: 'updated_at',
};

/** One page of live rows of `table` whose columns equal any of the given values, oldest first. */
export async function listLive<R, T>(
  em: EntityManager,
  table: 'features' | 'plans' | 'addons' | 'plan_addons',
  filters: [column: string, filter: FieldFilter | undefined][],
  labels: Record<string, FieldFilter> | undefined,
  sort: SortKey<CatalogSortField>[] | undefined,
  page: PageParams,
  view: (r: R) => T,
): Promise<Page<T>> {
  const where = (q: Sql): Sql => {
    q.add('deleted_at is null');
    // a subscription's own versions are never listed
    if (table === 'plans') q.add(' and owner_subscription_id is null');
    for (const [col, f] of filters) if (f) whereFilter(q.add(' and '), col, f);
    if (labels && Object.keys(labels).length) whereLabels(q.add(' and '), 'labels', labels);
    return q;
  };
  const { limit, offset } = pageOffset(page);
  const [{ total }] = await exec<{ total: string }>(
    em,
    where(new Sql().add(`select count(*)::text as total from ${table} where `)),
  );
  const rows = await exec<R>(
    em,
    where(new Sql().add(`select * from ${table} where `))
      .add(orderBy(sort, CATALOG_SORT_COLUMNS, [{ field: 'created_at', desc: false }], 'id'))
      .add(' limit ? offset ?', limit, offset),
  );
  return toPage(rows.map(view), Number(total), page);
}

function listFeatures(em: EntityManager, q: FeatureListQuery): Promise<Page<Feature>> {
  return listLive(
    em,
    'features',
    [
      ['key', q.key],
      ['meter_id', q.meter_id],
      ['name', q.name],
    ],
    q.labels,
    q.sort,
    q.page,
    featureView,
  );
}

/** Archives (soft-deletes) a live feature; 404 when missing, 410 when already archived. */
/** OpenMeter's update-feature: only `unit_cost` (undefined: unchanged, null: cleared); 410 once archived. */
async function updateFeature(
  em: EntityManager,
  idOrKey: string,
  input: { unit_cost?: unknown },
): Promise<Feature> {
  const f = await getFeature(em, idOrKey);
  if (f.deleted_at) throw gone('feature', f.id);
  if (input.unit_cost === undefined) return f;
  const rows = await exec(
    em,
    new Sql().add(
      'update features set unit_cost = ?::jsonb, updated_at = now() where id = ? and deleted_at is null returning id',
      input.unit_cost === null ? null : JSON.stringify(input.unit_cost),
      f.id,
    ),
  );
  // archived between the read and the write
  if (rows.length === 0) throw gone('feature', f.id);
  return getFeature(em, f.id);
}

async function archiveFeature(em: EntityManager, idOrKey: string): Promise<void> {
  const f = await getFeature(em, idOrKey);
  if (f.deleted_at) throw gone('feature', f.id);
  await exec(
    em,
    new Sql().add(
      'update features set deleted_at = now(), updated_at = now() where id = ? and deleted_at is null',
      f.id,
    ),
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

/**
 * The validated, normalized phases: the referenced features loaded in one query, then the pure rules of
 * `validatePlan`; an InvalidError listing every problem.
 */
async function checkedPhases(
  em: EntityManager,
  phases: PlanPhaseInput[],
  planCadence: string | undefined,
): Promise<PlanPhase[]> {
  const features = await findFeatures(em, featureRefs(phases));
  const { phases: out, errors } = validatePlan(phases, planCadence, features);
  if (errors.length) throw invalid('the plan is invalid', errors);
  return out;
}

async function planRow(em: EntityManager, q: Sql): Promise<PlanRow | undefined> {
  return (await exec<PlanRow>(em, q))[0];
}

/** A plan version by id (any status); 404 when missing, 410 when it was a deleted draft. */
export async function getPlan(em: EntityManager, id: string): Promise<Plan> {
  const row = await planRow(em, new Sql().add('select * from plans where id = ?', id));
  if (!row) throw notFound('plan', id);
  if (row.deleted_at != null) throw gone('plan', id);
  return planView(row);
}

/** A catalog plan version by id: a subscription's own version is not one (404). */
async function catalogPlan(em: EntityManager, id: string): Promise<Plan> {
  const p = await getPlan(em, id);
  if (p.status === 'custom') throw notFound('plan', id);
  return p;
}

/** The key of a plan version, deleted ones included (billing names one-time fees by plan key); null if unknown. */
export async function findPlanKey(em: EntityManager, id: string): Promise<string | null> {
  const rows = await em.execute<{ key: string }[]>('select key from plans where id = ?', [id]);
  return rows[0]?.key ?? null;
}

export type PlanRef = { id: string } | { key: string; version?: number };

/**
 * A plan by id, by key and version, or by key alone: the latest active version. NotFoundError when there
 * is no such plan; ConflictError when the key exists but has no active version (only drafts or archived
 * versions).
 */
export async function resolvePlan(em: EntityManager, ref: PlanRef): Promise<Plan> {
  if ('id' in ref) return getPlan(em, ref.id);
  if (ref.version !== undefined) {
    const row = await planRow(
      em,
      new Sql().add(
        'select * from plans where key = ? and version = ? and deleted_at is null and owner_subscription_id is null',
        ref.key,
        ref.version,
      ),
    );
    if (!row) throw notFound('plan', `${ref.key} version ${ref.version}`);
    return planView(row);
  }
  const row = await planRow(
    em,
    new Sql().add("select * from plans where key = ? and status = 'active' and deleted_at is null", ref.key),
  );
  if (row) return planView(row);
  const any = await exec(
    em,
    new Sql().add(
      'select 1 from plans where key = ? and deleted_at is null and owner_subscription_id is null limit 1',
      ref.key,
    ),
  );
  if (!any.length) throw notFound('plan', ref.key);
  throw conflict(`plan ${ref.key} has no active version; publish one first`);
}

async function createPlan(em: EntityManager, input: PlanInput): Promise<Plan> {
  const phases = await checkedPhases(em, input.phases, input.billing_cadence);
  const id = newId();
  try {
    await em.transactional(async (tx) => {
      const next = await nextDraftVersion(tx, PLAN_KIND, input.key);
      await exec(
        tx,
        new Sql().add(
          `insert into plans (id, key, version, status, name, description, labels, currency, billing_cadence,
                              pro_rating_enabled, phases)
           values (?, ?, ?, 'draft', ?, ?, ?::jsonb, ?, ?, ?, ?::jsonb)`,
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
        ),
      );
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`plan ${input.key} already has a draft`);
    throw e;
  }
  return getPlan(em, id);
}

async function updatePlan(em: EntityManager, id: string, input: PlanUpdateInput): Promise<Plan> {
  const current = await catalogPlan(em, id);
  assertDraft(PLAN_KIND, current, 'updated');
  const phases = await checkedPhases(em, input.phases, current.billing_cadence);
  const res = await exec(
    em,
    new Sql().add(
      `update plans set name = ?, description = ?, labels = ?::jsonb, pro_rating_enabled = ?, phases = ?::jsonb,
              updated_at = now()
       where id = ? and status = 'draft' and deleted_at is null returning id`,
      input.name,
      input.description ?? null,
      input.labels ? JSON.stringify(input.labels) : null,
      input.pro_rating_enabled ?? current.pro_rating_enabled,
      JSON.stringify(phases),
      id,
    ),
  );
  if (!res.length) throw conflict(`plan ${id} is no longer a draft`);
  return getPlan(em, id);
}

/** draft → active (effective_from = now); the previously active version of the key is archived. */
async function publishPlan(em: EntityManager, id: string): Promise<Plan> {
  const current = await catalogPlan(em, id);
  assertDraft(PLAN_KIND, current, 'published');
  await publishVersion(em, PLAN_KIND, current);
  return getPlan(em, id);
}

/** active → archived (effective_to = now). */
async function archivePlan(em: EntityManager, id: string): Promise<Plan> {
  await archiveVersion(em, PLAN_KIND, await catalogPlan(em, id));
  return getPlan(em, id);
}

/**
 * Deletes a draft or archives an active version; 409 while live subscriptions are on the version (they
 * must be canceled or migrated first), naming how many.
 */
async function deletePlan(em: EntityManager, id: string): Promise<void> {
  const current = await catalogPlan(em, id);
  // subscriptions on their own versions derived from this one are on it too
  const derived = await exec<{ id: string }>(
    em,
    new Sql().add('select id from plans where base_plan_id = ?', current.id),
  );
  const live = await liveSubscriptionCount(em, [current.id, ...derived.map((d) => d.id)]);
  if (live > 0)
    throw conflict(
      `plan ${current.key} version ${current.version} has ${live} live subscription(s); cancel or migrate them first`,
      { subscriptions_count: live },
    );
  if (current.status === 'draft')
    await exec(
      em,
      new Sql().add(
        "update plans set deleted_at = now(), updated_at = now() where id = ? and status = 'draft'",
        id,
      ),
    );
  else if (current.status === 'active') await archivePlan(em, id);
}

export interface PlanListQuery {
  page: PageParams;
  key?: FieldFilter;
  status?: FieldFilter;
  currency?: FieldFilter;
  name?: FieldFilter;
  labels?: Record<string, FieldFilter>;
  sort?: SortKey<CatalogSortField>[];
}

function listPlans(em: EntityManager, q: PlanListQuery): Promise<Page<Plan>> {
  return listLive(
    em,
    'plans',
    [
      ['key', q.key],
      ['status', q.status],
      ['currency', q.currency],
      ['name', q.name],
    ],
    q.labels,
    q.sort,
    q.page,
    planView,
  );
}

// ---------------------------------------------------------------------------------------------------------
// A subscription's own plan versions (src/catalog/derive.ts)

/** A custom plan: a plan body without a key or with one (never a catalog key's version). */
export type CustomPlanInput = Omit<PlanInput, 'key'> & { key?: string };

/** Its change at `fieldOf(i)`, each problem in the request's words (409 when one contradicts the version). */
export interface DeriveVersionInput {
  ownerSubscriptionId: string;
  /** the version derived from: a catalog version or the subscription's own current one */
  base: Plan | SubscriptionPlanVersion;
  changes: readonly RateCardChange[];
  source: ItemSource;
  fieldOf: (index: number) => string;
  phaseStarts?: Readonly<Record<string, string>>;
  frozenPhases?: readonly string[];
  ref?: Record<string, string>;
}

async function insertVersion(
  em: EntityManager,
  v: {
    id: string;
    key: string;
    version: number;
    owner: string;
    baseId: string | null;
    origins: ItemOrigins;
    name: string;
    description?: string;
    labels?: Record<string, string>;
    currency: string;
    billing_cadence: string;
    pro_rating_enabled: boolean;
    phases: PlanPhase[];
  },
): Promise<SubscriptionPlanVersion> {
  await exec(
    em,
    new Sql().add(
      `insert into plans (id, key, version, status, name, description, labels, currency, billing_cadence,
                          pro_rating_enabled, phases, owner_subscription_id, base_plan_id, origins)
       values (?, ?, ?, 'custom', ?, ?, ?::jsonb, ?, ?, ?, ?::jsonb, ?, ?, ?::jsonb)`,
      v.id,
      v.key,
      v.version,
      v.name,
      v.description ?? null,
      v.labels ? JSON.stringify(v.labels) : null,
      v.currency,
      v.billing_cadence,
      v.pro_rating_enabled,
      JSON.stringify(v.phases),
      v.owner,
      v.baseId,
      JSON.stringify(v.origins),
    ),
  );
  return (await getSubscriptionVersion(em, v.id))!;
}

/**
 * A custom plan as the subscription's own version: status `custom`, version 1, its key (or
 * `custom-<subscription id>`), every item of origin `custom`. Validated as a catalog plan (`validatePlan`),
 * errors named under `field` (e.g. `body.custom_plan.phases[0]…`).
 */
export async function createCustomVersion(
  em: EntityManager,
  ownerSubscriptionId: string,
  input: CustomPlanInput,
  field: string,
): Promise<SubscriptionPlanVersion> {
  const features = await findFeatures(em, featureRefs(input.phases));
  const { phases, errors } = validatePlan(input.phases, input.billing_cadence, features);
  if (errors.length)
    throw invalid(
      'the custom plan is invalid',
      errors.map((e) => ({ ...e, field: e.field.replace(/^body\./, `${field}.`) })),
    );
  const id = newId();
  return insertVersion(em, {
    id,
    key: input.key ?? `custom-${ownerSubscriptionId.toLowerCase()}`,
    version: 1,
    owner: ownerSubscriptionId,
    baseId: null,
    origins: originsOf(phases, 'custom', id),
    name: input.name,
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.labels ? { labels: input.labels } : {}),
    currency: input.currency,
    billing_cadence: input.billing_cadence,
    pro_rating_enabled: input.pro_rating_enabled ?? true,
    phases,
  });
}

/**
 * A new version of the subscription, derived from `base` by `changes` (deriveVersion), validated as a plan
 * (`validatePlan`; each problem named by the change that caused it). Same key, version number, currency and
 * cadence as `base`; `base_plan_id` is the catalog version at the root (none for a custom plan). A change
 * that contradicts the version (a key taken, a phase over) is a ConflictError, any other problem an
 * InvalidError; nothing is stored then.
 */
export async function deriveSubscriptionVersion(
  em: EntityManager,
  input: DeriveVersionInput,
): Promise<SubscriptionPlanVersion> {
  const base = input.base;
  const own = 'owner_subscription_id' in base ? base : undefined;
  const id = newId();
  const d = deriveVersion({
    phases: base.phases,
    ...(own ? { origins: own.origins } : {}),
    baseId: base.id,
    changes: input.changes,
    source: input.source,
    versionId: id,
    fieldOf: input.fieldOf,
    ...(input.phaseStarts ? { phaseStarts: input.phaseStarts } : {}),
    ...(input.frozenPhases ? { frozenPhases: input.frozenPhases } : {}),
    ...(input.ref ? { ref: input.ref } : {}),
  });
  const params = (es: DeriveError[]): InvalidParam[] => es.map(({ field, reason }) => ({ field, reason }));
  const conflicts = d.errors.filter((e) => e.conflict);
  if (conflicts.length)
    throw conflict(conflicts.map((e) => `${e.field}: ${e.reason}`).join('; '), {
      invalid_parameters: params(conflicts),
    });
  if (d.errors.length)
    throw invalid(d.errors.map((e) => `${e.field}: ${e.reason}`).join('; '), params(d.errors));
  const features = await findFeatures(em, featureRefs(d.phases));
  const { phases, errors } = validatePlan(d.phases, base.billing_cadence, features);
  if (errors.length) {
    const mapped = errors.map((e) => ({ ...e, field: errorField(e.field, d.phases, d.writtenBy) }));
    throw invalid(mapped.map((e) => `${e.field}: ${e.reason}`).join('; '), mapped);
  }
  return insertVersion(em, {
    id,
    key: base.key,
    version: base.version,
    owner: input.ownerSubscriptionId,
    baseId: own ? (own.base_plan_id ?? null) : base.id,
    origins: d.origins,
    name: base.name,
    ...(base.description !== undefined ? { description: base.description } : {}),
    ...(base.labels ? { labels: base.labels } : {}),
    currency: base.currency,
    billing_cadence: base.billing_cadence,
    pro_rating_enabled: base.pro_rating_enabled,
    phases,
  });
}

/** A subscription's own version by id; null when `id` is a catalog version or unknown. */
export async function getSubscriptionVersion(
  em: EntityManager,
  id: string,
): Promise<SubscriptionPlanVersion | null> {
  const row = await planRow(em, new Sql().add("select * from plans where id = ? and status = 'custom'", id));
  return row ? subscriptionVersionView(row) : null;
}

/** The version a subscription is on, with its origins (a catalog version: every item `plan`). */
export async function getVersionWithOrigins(
  em: EntityManager,
  id: string,
): Promise<Plan & { origins: ItemOrigins; base_plan_id?: string }> {
  const own = await getSubscriptionVersion(em, id);
  if (own) return own;
  const p = await getPlan(em, id);
  return { ...p, origins: originsOf(p.phases, 'plan', p.id) };
}

/**
 * Removes a subscription's own version nothing refers to (a subscription that could not start, an edit
 * its workflow refused). Only `custom` versions; a version still referenced stays (foreign key).
 */
export async function deleteSubscriptionVersion(em: EntityManager, id: string): Promise<void> {
  await exec(em, new Sql().add(`delete from plans where id = ? and status = 'custom'`, id));
}

// ---------------------------------------------------------------------------------------------------------

/**
 * The catalog as the routes use it, on the request's EntityManager (`deps.orm.em` under the API's
 * RequestContext; callers outside a request run it inside `RequestContext.create`). It never forks.
 */
export function createCatalogService(deps: Pick<AppDeps, 'orm'>) {
  const em = (): EntityManager => deps.orm.em;
  return {
    createFeature: (input: FeatureInput) => createFeature(em(), input),
    listFeatures: (q: FeatureListQuery) => listFeatures(em(), q),
    getFeature: (idOrKey: string) => getFeature(em(), idOrKey),
    updateFeature: (idOrKey: string, input: { unit_cost?: unknown }) => updateFeature(em(), idOrKey, input),
    archiveFeature: (idOrKey: string) => archiveFeature(em(), idOrKey),
    createPlan: (input: PlanInput) => createPlan(em(), input),
    listPlans: (q: PlanListQuery) => listPlans(em(), q),
    getPlan: (id: string) => catalogPlan(em(), id),
    updatePlan: (id: string, input: PlanUpdateInput) => updatePlan(em(), id, input),
    publishPlan: (id: string) => publishPlan(em(), id),
    archivePlan: (id: string) => archivePlan(em(), id),
    deletePlan: (id: string) => deletePlan(em(), id),
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;
