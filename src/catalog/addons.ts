/**
 * Add-ons (tables `addons`, `plan_addons`): versioned like plans (one row per version; create with an
 * existing key = the next version, as a draft; at most one draft and one active version per key; publish
 * archives the previous active version in the same transaction; only drafts change), and the add-ons a plan
 * version offers. Validation is pure (`addon-rules.ts`) over the features loaded in one query.
 *
 * Exports for other domains: `getAddon`, `getPlanAddon`, `findPlanAddonFor` (the offer of an add-on by a
 * plan version), each on the caller's EntityManager; `createAddonService(deps)` is the routes' service.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppDeps } from '../deps';
import { exec, isUniqueViolation, Sql } from '../db/sql';
import { conflict, gone, GoneError, invalid, notFound, NotFoundError } from '../lib/errors';
import { newId } from '../lib/ids';
import type { FieldFilter, SortKey } from '../lib/list-query';
import type { Page, PageParams } from '../lib/pagination';
import { instant } from '../lib/time';
import { validateAddon, validatePlanAddon, type AddonInput } from './addon-rules';
import { findFeatures, getPlan, listLive, type CatalogSortField } from './service';
import type { Addon, AddonInstanceType, PlanAddon, PlanStatus, RateCard } from './types';
import type { RateCardInput } from './validate';
import { ADDON_KIND, archiveVersion, assertDraft, nextDraftVersion, publishVersion } from './versioning';

// ---------------------------------------------------------------------------------------------------------
// rows and views

export interface AddonRow {
  id: string;
  key: string;
  version: number | string;
  status: PlanStatus;
  name: string;
  description: string | null;
  labels: Record<string, string> | null;
  instance_type: AddonInstanceType;
  currency: string;
  rate_cards: RateCard[];
  effective_from: Date | string | null;
  effective_to: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
  deleted_at: Date | string | null;
}

export interface PlanAddonRow {
  id: string;
  plan_id: string;
  addon_id: string;
  name: string;
  description: string | null;
  labels: Record<string, string> | null;
  from_plan_phase: string;
  max_quantity: number | null;
  created_at: Date | string;
  updated_at: Date | string;
  deleted_at: Date | string | null;
}

export function addonView(r: AddonRow): Addon {
  return {
    id: r.id,
    key: r.key,
    version: Number(r.version),
    status: r.status,
    name: r.name,
    ...(r.description != null ? { description: r.description } : {}),
    ...(r.labels != null ? { labels: r.labels } : {}),
    instance_type: r.instance_type,
    currency: r.currency.trim(),
    ...(r.effective_from != null ? { effective_from: instant(r.effective_from) } : {}),
    ...(r.effective_to != null ? { effective_to: instant(r.effective_to) } : {}),
    rate_cards: r.rate_cards,
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
  };
}

export function planAddonView(r: PlanAddonRow): PlanAddon {
  return {
    id: r.id,
    name: r.name,
    ...(r.description != null ? { description: r.description } : {}),
    ...(r.labels != null ? { labels: r.labels } : {}),
    addon: { id: r.addon_id },
    from_plan_phase: r.from_plan_phase,
    ...(r.max_quantity != null ? { max_quantity: Number(r.max_quantity) } : {}),
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
  };
}

// ---------------------------------------------------------------------------------------------------------
// add-ons

export interface AddonCreateInput extends AddonInput {
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
}

export interface AddonUpdateInput {
  name: string;
  description?: string;
  labels?: Record<string, string>;
  instance_type: AddonInstanceType;
  rate_cards: RateCardInput[];
}

/** The validated, normalized rate cards (features loaded in one query); an InvalidError listing every problem. */
async function checkedRateCards(em: EntityManager, input: AddonInput): Promise<RateCard[]> {
  const refs = [...new Set(input.rate_cards.flatMap((rc) => (rc.feature ? [rc.feature.id] : [])))];
  const features = await findFeatures(em, refs);
  const { rateCards, errors } = validateAddon(input, features);
  if (errors.length) throw invalid('the add-on is invalid', errors);
  return rateCards;
}

/** An add-on version by id (any status); 404 when missing, 410 when deleted. */
export async function getAddon(em: EntityManager, id: string): Promise<Addon> {
  const [row] = await exec<AddonRow>(em, new Sql().add('select * from addons where id = ?', id));
  if (!row) throw notFound('add-on', id);
  if (row.deleted_at != null) throw gone('add-on', id);
  return addonView(row);
}

/** An add-on version by id whatever its status, deleted ones included (what a subscription bought); 404. */
export async function findAddon(em: EntityManager, id: string): Promise<Addon> {
  const [row] = await exec<AddonRow>(em, new Sql().add('select * from addons where id = ?', id));
  if (!row) throw notFound('add-on', id);
  return addonView(row);
}

async function createAddon(em: EntityManager, input: AddonCreateInput): Promise<Addon> {
  const rateCards = await checkedRateCards(em, input);
  const id = newId();
  try {
    await em.transactional(async (tx) => {
      const next = await nextDraftVersion(tx, ADDON_KIND, input.key);
      await exec(
        tx,
        new Sql().add(
          `insert into addons (id, key, version, status, name, description, labels, instance_type, currency,
                               rate_cards)
           values (?, ?, ?, 'draft', ?, ?, ?::jsonb, ?, ?, ?::jsonb)`,
          id,
          input.key,
          next,
          input.name,
          input.description ?? null,
          input.labels ? JSON.stringify(input.labels) : null,
          input.instance_type,
          input.currency,
          JSON.stringify(rateCards),
        ),
      );
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`add-on ${input.key} already has a draft`);
    throw e;
  }
  return getAddon(em, id);
}

async function updateAddon(em: EntityManager, id: string, input: AddonUpdateInput): Promise<Addon> {
  const current = await getAddon(em, id);
  assertDraft(ADDON_KIND, current, 'updated');
  const rateCards = await checkedRateCards(em, { ...input, currency: current.currency });
  const res = await exec(
    em,
    new Sql().add(
      `update addons set name = ?, description = ?, labels = ?::jsonb, instance_type = ?, rate_cards = ?::jsonb,
              updated_at = now()
       where id = ? and status = 'draft' and deleted_at is null returning id`,
      input.name,
      input.description ?? null,
      input.labels ? JSON.stringify(input.labels) : null,
      input.instance_type,
      JSON.stringify(rateCards),
      id,
    ),
  );
  if (!res.length) throw conflict(`add-on ${id} is no longer a draft`);
  return getAddon(em, id);
}

/** draft → active (effective_from = now); the previously active version of the key is archived. */
async function publishAddon(em: EntityManager, id: string): Promise<Addon> {
  const current = await getAddon(em, id);
  assertDraft(ADDON_KIND, current, 'published');
  await publishVersion(em, ADDON_KIND, current);
  return getAddon(em, id);
}

/** active → archived (effective_to = now): no plan can offer it any more; subscriptions keep it. */
async function archiveAddon(em: EntityManager, id: string): Promise<Addon> {
  await archiveVersion(em, ADDON_KIND, await getAddon(em, id));
  return getAddon(em, id);
}

/**
 * Soft delete (410 afterwards): a draft, or an archived version. An active version is archived first (so
 * it is offered no more). 409 while a live plan version still offers it (remove it from the plans first).
 */
async function deleteAddon(em: EntityManager, id: string): Promise<void> {
  const current = await getAddon(em, id);
  const offers = await exec<{ plan_id: string }>(
    em,
    new Sql().add(
      `select pa.plan_id from plan_addons pa join plans p on p.id = pa.plan_id
        where pa.addon_id = ? and pa.deleted_at is null and p.deleted_at is null and p.status <> 'archived'`,
      id,
    ),
  );
  if (offers.length)
    throw conflict(
      `add-on ${current.key} version ${current.version} is offered by ${offers.length} plan version(s) ` +
        `(${offers.map((o) => o.plan_id).join(', ')}); remove it from them first`,
      { plans_count: offers.length },
    );
  await exec(
    em,
    new Sql().add(
      `update addons set deleted_at = now(), updated_at = now(),
              status = case when status = 'active' then 'archived' else status end,
              effective_to = case when status = 'active' then now() else effective_to end
        where id = ? and deleted_at is null`,
      id,
    ),
  );
}

export const ADDON_SORT_FIELDS = ['id', 'key', 'version', 'name', 'created_at', 'updated_at'] as const;

export interface AddonListQuery {
  page: PageParams;
  id?: FieldFilter;
  key?: FieldFilter;
  name?: FieldFilter;
  status?: FieldFilter;
  currency?: FieldFilter;
  /** `filter[labels.<key>]`, as on plans */
  labels?: Record<string, FieldFilter>;
  sort?: SortKey<CatalogSortField>[];
}

function listAddons(em: EntityManager, q: AddonListQuery): Promise<Page<Addon>> {
  return listLive(
    em,
    'addons',
    [
      ['id', q.id],
      ['key', q.key],
      ['name', q.name],
      ['status', q.status],
      ['currency', q.currency],
    ],
    q.labels,
    q.sort,
    q.page,
    addonView,
  );
}

// ---------------------------------------------------------------------------------------------------------
// plan add-ons

export interface PlanAddonCreateInput {
  name: string;
  description?: string;
  labels?: Record<string, string>;
  addon: { id: string };
  from_plan_phase: string;
  max_quantity?: number;
}

export type PlanAddonUpdateInput = Omit<PlanAddonCreateInput, 'addon'>;

/** Runs the pure compatibility rules: 409 for a status contradiction, 400 listing every bad field. */
async function checkOffer(
  em: EntityManager,
  planId: string,
  addonId: string,
  input: Pick<PlanAddonCreateInput, 'from_plan_phase' | 'max_quantity'>,
): Promise<void> {
  const plan = await catalogPlan(em, planId);
  let addon: Addon;
  try {
    addon = await getAddon(em, addonId);
  } catch (e) {
    if (e instanceof NotFoundError || e instanceof GoneError)
      throw invalid('the add-on does not exist', [
        { field: 'body.addon.id', reason: `add-on ${addonId} not found` },
      ]);
    throw e;
  }
  const { conflicts, errors } = validatePlanAddon(plan, addon, input);
  if (conflicts.length) throw conflict(conflicts.join('; '));
  if (errors.length) throw invalid('the plan cannot offer this add-on', errors);
}

/** A catalog plan version (a subscription's own version is none: 404). */
async function catalogPlan(em: EntityManager, planId: string) {
  const plan = await getPlan(em, planId);
  if (plan.status === 'custom') throw notFound('plan', planId);
  return plan;
}

/** A plan's offer by id; 404 when the plan has none with that id (or it was removed). */
export async function getPlanAddon(em: EntityManager, planId: string, id: string): Promise<PlanAddon> {
  await catalogPlan(em, planId);
  const [row] = await exec<PlanAddonRow>(
    em,
    new Sql().add(
      'select * from plan_addons where id = ? and plan_id = ? and deleted_at is null',
      id,
      planId,
    ),
  );
  if (!row) throw notFound('plan add-on', id);
  return planAddonView(row);
}

/** The live offer of add-on version `addonId` by plan version `planId`, or null when it offers none. */
export async function findPlanAddonFor(
  em: EntityManager,
  planId: string,
  addonId: string,
): Promise<PlanAddon | null> {
  const [row] = await exec<PlanAddonRow>(
    em,
    new Sql().add(
      'select * from plan_addons where plan_id = ? and addon_id = ? and deleted_at is null',
      planId,
      addonId,
    ),
  );
  return row ? planAddonView(row) : null;
}

async function createPlanAddon(
  em: EntityManager,
  planId: string,
  input: PlanAddonCreateInput,
): Promise<PlanAddon> {
  await checkOffer(em, planId, input.addon.id, input);
  const id = newId();
  try {
    await exec(
      em,
      new Sql().add(
        `insert into plan_addons (id, plan_id, addon_id, name, description, labels, from_plan_phase, max_quantity)
         values (?, ?, ?, ?, ?, ?::jsonb, ?, ?)`,
        id,
        planId,
        input.addon.id,
        input.name,
        input.description ?? null,
        input.labels ? JSON.stringify(input.labels) : null,
        input.from_plan_phase,
        input.max_quantity ?? null,
      ),
    );
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`plan ${planId} already offers add-on ${input.addon.id}`);
    throw e;
  }
  return getPlanAddon(em, planId, id);
}

async function updatePlanAddon(
  em: EntityManager,
  planId: string,
  id: string,
  input: PlanAddonUpdateInput,
): Promise<PlanAddon> {
  const current = await getPlanAddon(em, planId, id);
  await checkOffer(em, planId, current.addon.id, input);
  await exec(
    em,
    new Sql().add(
      `update plan_addons set name = ?, description = ?, labels = ?::jsonb, from_plan_phase = ?, max_quantity = ?,
              updated_at = now()
        where id = ? and deleted_at is null`,
      input.name,
      input.description ?? null,
      input.labels ? JSON.stringify(input.labels) : null,
      input.from_plan_phase,
      input.max_quantity ?? null,
      id,
    ),
  );
  return getPlanAddon(em, planId, id);
}

/** The plan offers it no more; subscriptions that bought it keep it. */
async function deletePlanAddon(em: EntityManager, planId: string, id: string): Promise<void> {
  await getPlanAddon(em, planId, id);
  await exec(
    em,
    new Sql().add('update plan_addons set deleted_at = now(), updated_at = now() where id = ?', id),
  );
}

export const PLAN_ADDON_SORT_FIELDS = ['id', 'created_at', 'updated_at'] as const;

async function listPlanAddons(
  em: EntityManager,
  planId: string,
  q: { page: PageParams; sort?: SortKey<CatalogSortField>[] },
): Promise<Page<PlanAddon>> {
  await catalogPlan(em, planId);
  return listLive(
    em,
    'plan_addons',
    [['plan_id', { op: 'eq', value: planId }]],
    undefined,
    q.sort,
    q.page,
    planAddonView,
  );
}

// ---------------------------------------------------------------------------------------------------------

/** Add-ons and plan add-ons as the routes use them, on the request's EntityManager. */
export function createAddonService(deps: Pick<AppDeps, 'orm'>) {
  const em = (): EntityManager => deps.orm.em;
  return {
    createAddon: (input: AddonCreateInput) => createAddon(em(), input),
    listAddons: (q: AddonListQuery) => listAddons(em(), q),
    getAddon: (id: string) => getAddon(em(), id),
    updateAddon: (id: string, input: AddonUpdateInput) => updateAddon(em(), id, input),
    publishAddon: (id: string) => publishAddon(em(), id),
    archiveAddon: (id: string) => archiveAddon(em(), id),
    deleteAddon: (id: string) => deleteAddon(em(), id),
    createPlanAddon: (planId: string, input: PlanAddonCreateInput) => createPlanAddon(em(), planId, input),
    listPlanAddons: (planId: string, q: { page: PageParams; sort?: SortKey<CatalogSortField>[] }) =>
      listPlanAddons(em(), planId, q),
    getPlanAddon: (planId: string, id: string) => getPlanAddon(em(), planId, id),
    updatePlanAddon: (planId: string, id: string, input: PlanAddonUpdateInput) =>
      updatePlanAddon(em(), planId, id, input),
    deletePlanAddon: (planId: string, id: string) => deletePlanAddon(em(), planId, id),
  };
}
