/**
 * Subscription add-ons (tables `subscription_addons`, `subscription_addon_quantities`): buying an add-on the
 * subscription's plan offers, changing its quantity, canceling it (quantity 0), each with a timing.
 *
 * Each operation is an EDIT of the subscription (S6-C's mechanism): the subscription's own plan version is
 * derived from the one it is on (`deriveSubscriptionVersion`, the add-on's rate cards applied as
 * `addon-changes.ts` computes, origin `addon`), and the workflow switches to it through the `edit` Update,
 * with the timing and proration of a plan change; entitlements follow the version the row names, so they
 * switch at the same instant as billing. Only when the workflow accepted the edit are the rows written
 * (the refused version is deleted again): nothing changes on a refused request.
 *
 * Checks, each naming its field (400) or the contradiction (409): the plan offers the add-on
 * (`body.addon.id`), the add-on bills in the subscription's currency (`body.addon.id`), the quantity is at
 * most 1 for a single-instance add-on and at most the offer's `max_quantity` (`body.quantity`), a timestamp
 * timing lies in the future (`body.timing`); 409: the subscription is canceled or scheduled, the add-on is
 * bought already (change its quantity instead), the subscription is in a phase before the offer's
 * `from_plan_phase`, another add-on already added an item with the same key, a change is pending.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { findAddon, findPlanAddonFor, getAddon } from '../catalog/addons';
import type { ItemOrigins } from '../catalog/derive';
import {
  deleteSubscriptionVersion,
  deriveSubscriptionVersion,
  getVersionWithOrigins,
} from '../catalog/service';
import type { Addon, Plan, RateCard } from '../catalog/types';
import type { AppDeps } from '../deps';
import { exec, Sql } from '../db/sql';
import {
  conflict,
  GoneError,
  invalid,
  notFound,
  NotFoundError,
  unavailable,
  UnavailableError,
} from '../lib/errors';
import { newId } from '../lib/ids';
import type { SortKey } from '../lib/list-query';
import { orderBy } from '../lib/list-query';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { instant } from '../lib/time';
import { TEMPORAL_UPDATE_TIMEOUT_MS, withTemporalDeadline } from '../temporal/client';
import { editUpdate } from '../../workflows/definitions';
import { addonChanges, type AddonApplication } from './addon-changes';
import { toPlanSchedule, type SubscriptionView as MachineView, type Timing } from './machine';
import { updateError } from './service';
import { derivedId } from './views';

// ---------------------------------------------------------------------------------------------------------
// rows and views

interface SubscriptionAddonRow {
  id: string;
  subscription_id: string;
  addon_id: string;
  plan_addon_id: string | null;
  labels: Record<string, string> | null;
  application: AddonApplication;
  created_at: Date | string;
  updated_at: Date | string;
}

interface QuantityRow {
  subscription_addon_id: string;
  active_from: Date | string;
  quantity: number;
  plan_version_id: string;
}

export interface SubscriptionAddonView {
  id: string;
  labels?: Record<string, string>;
  created_at: string;
  updated_at: string;
  name: string;
  description?: string;
  addon: { id: string; key: string; version: number; instance_type: Addon['instance_type'] };
  /** the quantity in force at `quantity_at` (now): 0 once canceled, or before a scheduled purchase */
  quantity: number;
  quantity_at: string;
  active_from: string;
  active_to?: string;
  /** sorted and continuous; a scheduled change is its last segment */
  timeline: { active_from: string; active_to?: string; quantity: number }[];
  rate_cards: { rate_card: RateCard; affected_subscription_item_ids: string[] }[];
}

/**
 * The quantity rows still meant: a future row is withdrawn when its version is no longer the subscription's
 * pending change (an `unschedule_edit` took it back); oldest first.
 */
function liveQuantities(sub: SubRow, qs: QuantityRow[]): QuantityRow[] {
  const present = presentOf(sub).getTime();
  return [...qs]
    .filter(
      (q) =>
        Date.parse(instant(q.active_from)) <= present ||
        sub.plan_id === q.plan_version_id ||
        sub.pending_change?.plan?.id === q.plan_version_id,
    )
    .sort((a, b) => Date.parse(instant(a.active_from)) - Date.parse(instant(b.active_from)));
}

function view(
  subscriptionId: string,
  r: SubscriptionAddonRow,
  addon: Addon,
  quantities: QuantityRow[],
  now: Date,
): SubscriptionAddonView {
  const qs = [...quantities].sort(
    (a, b) => Date.parse(instant(a.active_from)) - Date.parse(instant(b.active_from)),
  );
  const timeline = qs.map((q, i) => ({
    active_from: instant(q.active_from),
    ...(qs[i + 1] ? { active_to: instant(qs[i + 1].active_from) } : {}),
    quantity: Number(q.quantity),
  }));
  const inForce = [...qs].reverse().find((q) => Date.parse(instant(q.active_from)) <= now.getTime());
  const last = qs[qs.length - 1];
  const version = (inForce ?? last).plan_version_id;
  return {
    id: r.id,
    ...(r.labels ? { labels: r.labels } : {}),
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
    name: addon.name,
    ...(addon.description !== undefined ? { description: addon.description } : {}),
    addon: { id: addon.id, key: addon.key, version: addon.version, instance_type: addon.instance_type },
    quantity: inForce ? Number(inForce.quantity) : 0,
    quantity_at: instant(now),
    active_from: timeline[0].active_from,
    ...(Number(last.quantity) === 0 ? { active_to: instant(last.active_from) } : {}),
    timeline,
    rate_cards: addon.rate_cards.map((rc) => ({
      rate_card: rc,
      affected_subscription_item_ids: Object.entries(r.application)
        .filter(([, byKey]) => byKey[rc.key])
        .map(([phaseKey]) => derivedId(subscriptionId, version, phaseKey, rc.key)),
    })),
  };
}

// ---------------------------------------------------------------------------------------------------------

interface SubRow {
  id: string;
  status: 'scheduled' | 'active' | 'canceled';
  plan_id: string;
  phase_key: string;
  workflow_id: string;
  active_from: Date | string;
  pending_change: { kind: string; at: string; plan?: { id: string } } | null;
  current_period_start: Date | string | null;
}

/**
 * The subscription's present: now, or its current period's start when the workflow's clock is ahead of
 * this process's (a time-skipping test server; in production they agree).
 */
const presentOf = (sub: SubRow): Date =>
  new Date(
    Math.max(Date.now(), sub.current_period_start ? Date.parse(instant(sub.current_period_start)) : 0),
  );

export interface PurchaseInput {
  addon: { id: string };
  quantity: number;
  timing: Timing;
  labels?: Record<string, string>;
}

export const SUBSCRIPTION_ADDON_SORT_FIELDS = ['id', 'created_at', 'updated_at'] as const;

const bad = (field: string, reason: string) => invalid(reason, [{ field, reason }]);

/** The subscription add-ons of the API; on the request's EntityManager. */
export function createSubscriptionAddonsService(deps: Pick<AppDeps, 'orm' | 'temporal' | 'logger'>) {
  const em = (): EntityManager => deps.orm.em;
  const temporal = (): Client => {
    if (!deps.temporal) throw unavailable('Temporal is not configured');
    return deps.temporal;
  };

  async function subscription(id: string): Promise<SubRow> {
    const [row] = await exec<SubRow>(
      em(),
      new Sql().add(
        'select id, status, plan_id, phase_key, workflow_id, active_from, pending_change, current_period_start from subscriptions where id = ?',
        id,
      ),
    );
    if (!row) throw notFound('subscription', id);
    return row;
  }

  /** The subscription, able to take an edit now (409 otherwise), and the timing checked. */
  async function editable(id: string, timing: Timing): Promise<SubRow> {
    const row = await subscription(id);
    if (row.status === 'canceled') throw conflict(`subscription ${id} has ended (inactive)`);
    if (row.status === 'scheduled')
      throw conflict(
        `subscription ${id} starts at ${instant(row.active_from)}; add-ons can be bought once it is active`,
      );
    if (
      timing !== 'immediate' &&
      timing !== 'next_billing_cycle' &&
      Date.parse(timing) <= presentOf(row).getTime()
    )
      throw bad('body.timing', `timing ${timing} is in the past; use immediate or a future instant`);
    if (row.pending_change)
      throw conflict(
        `a ${row.pending_change.kind} is already scheduled (${row.pending_change.at}); add-ons change once it applied or was withdrawn`,
      );
    return row;
  }

  /**
   * Derives the version that takes the add-on to `toQuantity`, sends the edit, and answers with the
   * instant it takes effect and the version. The derived version is deleted again when the edit is refused.
   */
  async function edit(
    sub: SubRow,
    current: Plan & { origins: ItemOrigins },
    addon: Addon,
    saId: string,
    fromIndex: number,
    application: AddonApplication | undefined,
    fromQuantity: number,
    toQuantity: number,
    timing: Timing,
  ): Promise<{ at: string; versionId: string; application: AddonApplication }> {
    const currentIndex = current.phases.findIndex((p) => p.key === sub.phase_key);
    const { changes, application: applied } = addonChanges({
      phases: current.phases,
      fromIndex,
      rateCards: addon.rate_cards,
      ...(application ? { application } : {}),
      fromQuantity,
      toQuantity,
    });
    const version = await deriveSubscriptionVersion(em(), {
      ownerSubscriptionId: sub.id,
      base: current,
      changes,
      source: 'addon',
      fieldOf: () => 'body.addon',
      frozenPhases: current.phases.slice(0, Math.max(currentIndex, 0)).map((p) => p.key),
      ref: { addon_id: addon.id, subscription_addon_id: saId, quantity: String(toQuantity) },
    });
    const client = temporal();
    let state: MachineView;
    try {
      state = await withTemporalDeadline(client, TEMPORAL_UPDATE_TIMEOUT_MS, () =>
        client.workflow
          .getHandle(sub.workflow_id)
          .executeUpdate(editUpdate, { args: [{ timing, plan: toPlanSchedule(version) }] }),
      );
    } catch (e) {
      const problem = updateError(e);
      if (problem instanceof UnavailableError)
        deps.logger.warn({ err: e, subscription_id: sub.id }, 'subscription add-on edit failed');
      else await deleteSubscriptionVersion(em(), version.id);
      throw problem;
    }
    const at =
      timing === 'immediate'
        ? state.currentPeriod!.from
        : timing === 'next_billing_cycle'
          ? state.currentPeriod!.to
          : instant(timing);
    return { at: instant(at), versionId: version.id, application: applied };
  }

  async function loadAddon(id: string): Promise<Addon> {
    try {
      return await getAddon(em(), id);
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof GoneError)
        throw bad('body.addon.id', `add-on ${id} not found`);
      throw e;
    }
  }

  /** The offer of `addon` by the subscription's catalog plan, and the checks that depend on it. */
  async function offerFor(
    current: Plan & { origins: ItemOrigins; base_plan_id?: string },
    addon: Addon,
    quantity: number,
  ) {
    if (addon.currency !== current.currency)
      throw bad(
        'body.addon.id',
        `the add-on bills in ${addon.currency}, the subscription in ${current.currency}`,
      );
    const own = 'owner_subscription_id' in current;
    const catalogPlanId = own ? current.base_plan_id : current.id;
    const offer = catalogPlanId ? await findPlanAddonFor(em(), catalogPlanId, addon.id) : null;
    if (!offer)
      throw bad(
        'body.addon.id',
        `plan ${current.key} version ${current.version} does not offer add-on ${addon.key} version ${addon.version}`,
      );
    if (addon.instance_type === 'single' && quantity > 1)
      throw bad(
        'body.quantity',
        `add-on ${addon.key} is single-instance: its quantity is 1 (or 0 to cancel it)`,
      );
    if (offer.max_quantity !== undefined && quantity > offer.max_quantity)
      throw bad(
        'body.quantity',
        `at most ${offer.max_quantity} of add-on ${addon.key} can be bought with this plan`,
      );
    return offer;
  }

  async function rows(subscriptionId: string, id?: string) {
    const q = new Sql().add('select * from subscription_addons where subscription_id = ?', subscriptionId);
    if (id) q.add(' and id = ?', id);
    return exec<SubscriptionAddonRow>(em(), q);
  }

  async function quantities(ids: string[]): Promise<Map<string, QuantityRow[]>> {
    const out = new Map<string, QuantityRow[]>();
    if (!ids.length) return out;
    const qs = await exec<QuantityRow>(
      em(),
      new Sql().add('select * from subscription_addon_quantities where subscription_addon_id in ').list(ids),
    );
    for (const q of qs) out.set(q.subscription_addon_id, [...(out.get(q.subscription_addon_id) ?? []), q]);
    return out;
  }

  async function get(subscriptionId: string, id: string): Promise<SubscriptionAddonView> {
    const sub = await subscription(subscriptionId);
    const [r] = await rows(subscriptionId, id);
    const live = r ? liveQuantities(sub, (await quantities([r.id])).get(r.id) ?? []) : [];
    // a purchase whose scheduled edit was withdrawn never happened
    if (!r || !live.length) throw notFound('subscription add-on', id);
    const addon = await getAddonAnyway(r.addon_id);
    return view(subscriptionId, r, addon, live, presentOf(sub));
  }

  /** The add-on version bought (still readable when archived or deleted since). */
  const getAddonAnyway = (id: string): Promise<Addon> => findAddon(em(), id);

  return {
    get,

    async list(
      subscriptionId: string,
      q: { page: PageParams; sort?: SortKey<(typeof SUBSCRIPTION_ADDON_SORT_FIELDS)[number]>[] },
    ): Promise<Page<SubscriptionAddonView>> {
      const sub = await subscription(subscriptionId);
      const { limit, offset } = pageOffset(q.page);
      const [{ total }] = await exec<{ total: string }>(
        em(),
        new Sql().add(
          'select count(*)::text as total from subscription_addons where subscription_id = ?',
          subscriptionId,
        ),
      );
      const rs = await exec<SubscriptionAddonRow>(
        em(),
        new Sql()
          .add('select * from subscription_addons where subscription_id = ?', subscriptionId)
          .add(
            orderBy(
              q.sort,
              { id: 'id', created_at: 'created_at', updated_at: 'updated_at' },
              [{ field: 'created_at', desc: false }],
              'id',
            ),
          )
          .add(' limit ? offset ?', limit, offset),
      );
      const qs = await quantities(rs.map((r) => r.id));
      const now = presentOf(sub);
      const views: SubscriptionAddonView[] = [];
      for (const r of rs)
        if (liveQuantities(sub, qs.get(r.id) ?? []).length)
          views.push(
            view(
              subscriptionId,
              r,
              await getAddonAnyway(r.addon_id),
              liveQuantities(sub, qs.get(r.id) ?? []),
              now,
            ),
          );
      return toPage(views, Number(total), q.page);
    },

    /** Buys an add-on (201). */
    async purchase(subscriptionId: string, input: PurchaseInput): Promise<SubscriptionAddonView> {
      const sub = await editable(subscriptionId, input.timing);
      const addon = await loadAddon(input.addon.id);
      const current = await getVersionWithOrigins(em(), sub.plan_id);
      const offer = await offerFor(current, addon, input.quantity);
      const [already] = await exec<{ id: string }>(
        em(),
        new Sql().add(
          'select id from subscription_addons where subscription_id = ? and addon_id = ?',
          subscriptionId,
          addon.id,
        ),
      );
      const withdrawn =
        already && !liveQuantities(sub, (await quantities([already.id])).get(already.id) ?? []).length;
      if (withdrawn)
        await exec(em(), new Sql().add('delete from subscription_addons where id = ?', already.id));
      else if (already)
        throw conflict(
          `subscription ${subscriptionId} has add-on ${addon.key} already (${already.id}); change its quantity instead`,
        );
      const currentIndex = current.phases.findIndex((p) => p.key === sub.phase_key);
      const fromIndex = current.phases.findIndex((p) => p.key === offer.from_plan_phase);
      if (fromIndex < 0 || currentIndex < fromIndex)
        throw conflict(
          `add-on ${addon.key} can be bought from phase ${offer.from_plan_phase} on; the subscription is in phase ${sub.phase_key}`,
        );
      // an item another add-on added cannot be extended by this one (its cancelation would take both)
      for (const phase of current.phases.slice(currentIndex))
        for (const rc of addon.rate_cards) {
          const origin = current.origins.items[phase.key]?.[rc.key];
          if (origin?.source === 'addon' && origin.ref?.addon_id !== addon.id)
            throw conflict(
              `the item ${rc.key} of phase ${phase.key} comes from add-on ${origin.ref?.addon_id ?? '?'}; ` +
                `add-on ${addon.key} cannot extend it`,
            );
        }
      const id = newId();
      const done = await edit(
        sub,
        current,
        addon,
        id,
        currentIndex,
        undefined,
        0,
        input.quantity,
        input.timing,
      );
      await em().transactional(async (tx) => {
        await exec(
          tx,
          new Sql().add(
            `insert into subscription_addons (id, subscription_id, addon_id, plan_addon_id, labels, application)
             values (?, ?, ?, ?, ?::jsonb, ?::jsonb)`,
            id,
            subscriptionId,
            addon.id,
            offer.id,
            input.labels ? JSON.stringify(input.labels) : null,
            JSON.stringify(done.application),
          ),
        );
        await exec(
          tx,
          new Sql().add(
            `insert into subscription_addon_quantities (subscription_addon_id, active_from, quantity, plan_version_id)
             values (?, ?, ?, ?)`,
            id,
            done.at,
            input.quantity,
            done.versionId,
          ),
        );
      });
      deps.logger.info(
        { subscription_id: subscriptionId, addon: addon.key, quantity: input.quantity },
        'add-on bought',
      );
      return get(subscriptionId, id);
    },

    /** Changes the quantity (0 cancels the add-on). */
    async changeQuantity(
      subscriptionId: string,
      id: string,
      quantity: number,
      timing: Timing,
    ): Promise<SubscriptionAddonView> {
      const sub = await editable(subscriptionId, timing);
      const [r] = await rows(subscriptionId, id);
      if (!r) throw notFound('subscription add-on', id);
      const addon = await getAddonAnyway(r.addon_id);
      const qs = liveQuantities(sub, (await quantities([id])).get(id) ?? []);
      const last = qs[qs.length - 1];
      if (!last) throw notFound('subscription add-on', id);
      const fromQuantity = Number(last.quantity);
      if (fromQuantity === 0) throw conflict(`add-on ${addon.key} was canceled; buy it again`);
      if (quantity === fromQuantity) throw conflict(`add-on ${addon.key} has quantity ${quantity} already`);
      const current = await getVersionWithOrigins(em(), sub.plan_id);
      // more needs the offer (and its maximum); fewer is always possible
      if (quantity > fromQuantity) await offerFor(current, addon, quantity);
      const currentIndex = current.phases.findIndex((p) => p.key === sub.phase_key);
      // the phases still ahead (from the current one) are re-derived; those over stay as they were
      const application = Object.fromEntries(
        Object.entries(r.application).filter(([k]) =>
          current.phases.slice(currentIndex).some((p) => p.key === k),
        ),
      );
      const done = await edit(
        sub,
        current,
        addon,
        id,
        currentIndex,
        application,
        fromQuantity,
        quantity,
        timing,
      );
      await em().transactional(async (tx) => {
        await exec(
          tx,
          new Sql().add(
            `insert into subscription_addon_quantities (subscription_addon_id, active_from, quantity, plan_version_id)
             values (?, ?, ?, ?)
             on conflict (subscription_addon_id, active_from) do update set quantity = excluded.quantity,
               plan_version_id = excluded.plan_version_id`,
            id,
            done.at,
            quantity,
            done.versionId,
          ),
        );
        await exec(
          tx,
          new Sql().add(
            'update subscription_addons set application = ?::jsonb, updated_at = now() where id = ?',
            JSON.stringify({ ...r.application, ...done.application }),
            id,
          ),
        );
      });
      deps.logger.info(
        { subscription_id: subscriptionId, addon: addon.key, quantity },
        'add-on quantity changed',
      );
      return get(subscriptionId, id);
    },
  };
}
