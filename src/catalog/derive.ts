/**
 * A subscription's own plan version, derived from another version by a list of rate-card changes. Pure: no
 * I/O, no clock (the service loads the features, runs `validatePlan` on the result and stores it).
 *
 * Every item (rate card) of a version records its origin: `plan` (from the catalog version), `custom` (an
 * inline custom plan), `override` (a customization at creation), `edit` (an edit of the running
 * subscription), `addon` (an add-on purchase), with the id of the version in which it got its present form.
 * A version also keeps the rate cards it removed or replaced from the version it was derived from
 * (`replaced`), so that a timeline can show them ending where this version starts.
 *
 * Changes (OpenMeter v1's SubscriptionEditOperation, snake_case, plus `update_item`):
 * - `add_item`: a new rate card in a phase (its key must be free in the phase: 409 otherwise);
 * - `remove_item`: removes a rate card (404-like 400 when the phase has none with that key);
 * - `update_item`: replaces a rate card's price and/or entitlement (`entitlement: null` removes it);
 * - `stretch_phase`: lengthens (`P10D`) or shortens (`-P10D`) a phase that has a duration and a successor.
 * Remove then add with the same key replaces a rate card. Phases listed in `frozenPhases` (already over)
 * cannot be changed (409).
 */
import type { InvalidParam } from '../lib/errors';
import { addDuration, minDurationMs, nthBoundary, parseDuration, type Duration } from './periods';
import type { EntitlementTemplate, PlanPhase, Price, RateCard } from './types';
import type { PlanPhaseInput, RateCardInput } from './validate';

export type ItemSource = 'plan' | 'custom' | 'override' | 'edit' | 'addon';

export interface ItemOrigin {
  source: ItemSource;
  /** the plan version (row id) in which the item got its present form */
  version: string;
  /** free for the source's own references (e.g. an add-on's id); kept as is by later derivations */
  ref?: Record<string, string>;
}

export interface ItemOrigins {
  /** phase key → rate-card key → origin */
  items: Record<string, Record<string, ItemOrigin>>;
  /** phase key → the rate cards this version removed or replaced from the one it derives from */
  replaced?: Record<string, { rate_card: RateCard; origin: ItemOrigin }[]>;
}

export type RateCardChange =
  | { op: 'add_item'; phase_key: string; rate_card: RateCardInput }
  | { op: 'remove_item'; phase_key: string; item_key: string }
  | {
      op: 'update_item';
      phase_key: string;
      item_key: string;
      price?: Price;
      entitlement?: EntitlementTemplate | null;
    }
  | { op: 'stretch_phase'; phase_key: string; extend_by: string };

export interface DeriveInput {
  /** the phases of the version derived from */
  phases: readonly PlanPhase[];
  /** its origins (absent: every item is `plan`, of version `baseId`) */
  origins?: ItemOrigins;
  baseId: string;
  changes: readonly RateCardChange[];
  /** what the added and changed items are marked */
  source: ItemSource;
  /** the id of the new version */
  versionId: string;
  /** how each change names its field in errors, e.g. `body.customizations[2]` */
  fieldOf: (index: number) => string;
  /** the known start instants (ISO) of phases: an exact shortening needs its phase's start */
  phaseStarts?: Readonly<Record<string, string>>;
  /** phases already over: no change may touch them */
  frozenPhases?: readonly string[];
  /** `ref` recorded on the origins of added items */
  ref?: Record<string, string>;
}

/** A problem with a change: `conflict` (it contradicts the version, e.g. a key already taken) or invalid. */
export interface DeriveError extends InvalidParam {
  conflict?: boolean;
}

export interface DeriveResult {
  /** the new version's phases, to be validated (`validatePlan`) before they are stored */
  phases: PlanPhaseInput[];
  origins: ItemOrigins;
  errors: DeriveError[];
  /** for each (phase key, rate-card key) that a change wrote, the field of that change */
  writtenBy: Map<string, string>;
}

/** Origins of a version none of whose items was changed: all `source`, of version `versionId`. */
export function originsOf(phases: readonly PlanPhase[], source: ItemSource, versionId: string): ItemOrigins {
  return {
    items: Object.fromEntries(
      phases.map((p) => [
        p.key,
        Object.fromEntries(p.rate_cards.map((rc) => [rc.key, { source, version: versionId }])),
      ]),
    ),
  };
}

/** The origin of an item, `plan` of `fallback` when the version records none. */
export function originOf(
  origins: ItemOrigins | null | undefined,
  phaseKey: string,
  rateCardKey: string,
  fallback: string,
): ItemOrigin {
  return origins?.items[phaseKey]?.[rateCardKey] ?? { source: 'plan', version: fallback };
}

const DURATION_PARTS = ['years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds'] as const;

/** An ISO-8601 duration from its parts (all ≥ 0, at least one > 0). */
export function formatDuration(d: Duration): string {
  const date = `${d.years ? `${d.years}Y` : ''}${d.months ? `${d.months}M` : ''}${d.weeks ? `${d.weeks}W` : ''}${d.days ? `${d.days}D` : ''}`;
  const secs = Math.round(d.seconds * 1000) / 1000;
  const time = `${d.hours ? `${d.hours}H` : ''}${d.minutes ? `${d.minutes}M` : ''}${secs ? `${secs}S` : ''}`;
  const out = `P${date}${time ? `T${time}` : ''}`;
  return out === 'P' ? 'PT0S' : out;
}

/**
 * `duration` stretched by `by` (`P…` lengthens, `-P…` shortens): part by part when every part stays ≥ 0
 * (P2M − P1M = P1M), else, when the phase's start is known, the exact time from that start to the
 * shortened end (`PT…S`). Undefined when it cannot be expressed (a reason is returned instead).
 */
export function stretchDuration(
  duration: string,
  by: string,
  start: string | undefined,
): { duration: string } | { reason: string } {
  const negative = by.startsWith('-');
  let d: Duration;
  let e: Duration;
  try {
    d = parseDuration(duration);
    e = parseDuration(negative ? by.slice(1) : by);
  } catch {
    return { reason: `${by} is not an ISO-8601 duration (P10D lengthens by ten days, -P10D shortens)` };
  }
  if (minDurationMs(e) <= 0) return { reason: 'must not be zero' };
  const parts = { ...d };
  for (const k of DURATION_PARTS) parts[k] = d[k] + (negative ? -e[k] : e[k]);
  if (DURATION_PARTS.every((k) => parts[k] >= 0)) {
    if (minDurationMs(parts) <= 0)
      return { reason: `shortening ${duration} by ${by.slice(1)} leaves nothing` };
    return { duration: formatDuration(parts) };
  }
  if (!start) return { reason: `cannot shorten ${duration} by ${by.slice(1)} without the phase's start` };
  const from = new Date(start);
  const end = nthBoundary(addDuration(from, d), e, -1).getTime();
  const ms = end - from.getTime();
  if (ms <= 0) return { reason: `shortening ${duration} by ${by.slice(1)} leaves nothing` };
  return { duration: `PT${ms / 1000}S` };
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Applies `changes`, in order, to a copy of the phases. */
export function deriveVersion(input: DeriveInput): DeriveResult {
  const phases: PlanPhaseInput[] = clone(input.phases) as PlanPhaseInput[];
  const base = input.origins
    ? clone(input.origins.items)
    : originsOf(input.phases, 'plan', input.baseId).items;
  const items: ItemOrigins['items'] = base;
  const replaced: NonNullable<ItemOrigins['replaced']> = {};
  const errors: DeriveError[] = [];
  const writtenBy = new Map<string, string>();
  const frozen = new Set(input.frozenPhases ?? []);
  const originalOf = new Map<string, RateCard>();
  for (const p of input.phases) for (const rc of p.rate_cards) originalOf.set(`${p.key}/${rc.key}`, rc);

  /** the first time this version touches an item of its base, the base's item goes to `replaced` */
  const retire = (phaseKey: string, key: string) => {
    const was = originalOf.get(`${phaseKey}/${key}`);
    if (!was) return;
    originalOf.delete(`${phaseKey}/${key}`);
    (replaced[phaseKey] ??= []).push({
      rate_card: was,
      origin: input.origins?.items[phaseKey]?.[key] ?? { source: 'plan', version: input.baseId },
    });
  };
  const mark = (phaseKey: string, key: string, field: string) => {
    (items[phaseKey] ??= {})[key] = {
      source: input.source,
      version: input.versionId,
      ...(input.ref ? { ref: input.ref } : {}),
    };
    writtenBy.set(`${phaseKey}/${key}`, field);
  };

  input.changes.forEach((c, i) => {
    const field = input.fieldOf(i);
    const pi = phases.findIndex((p) => p.key === c.phase_key);
    if (pi < 0) {
      errors.push({
        field: `${field}.phase_key`,
        reason: `no phase ${c.phase_key} (phases: ${phases.map((p) => p.key).join(', ')})`,
      });
      return;
    }
    if (frozen.has(c.phase_key)) {
      errors.push({ field: `${field}.phase_key`, reason: `phase ${c.phase_key} is over`, conflict: true });
      return;
    }
    const phase = phases[pi];
    const at = (key: string) => phase.rate_cards.findIndex((rc) => rc.key === key);
    switch (c.op) {
      case 'add_item': {
        if (at(c.rate_card.key) >= 0) {
          errors.push({
            field: `${field}.rate_card.key`,
            reason: `phase ${c.phase_key} already has an item ${c.rate_card.key} (remove it first to replace it)`,
            conflict: true,
          });
          return;
        }
        phase.rate_cards.push(clone(c.rate_card));
        mark(c.phase_key, c.rate_card.key, `${field}.rate_card`);
        return;
      }
      case 'remove_item':
      case 'update_item': {
        const ri = at(c.item_key);
        if (ri < 0) {
          errors.push({
            field: `${field}.item_key`,
            reason: `phase ${c.phase_key} has no item ${c.item_key}`,
          });
          return;
        }
        retire(c.phase_key, c.item_key);
        if (c.op === 'remove_item') {
          phase.rate_cards.splice(ri, 1);
          delete items[c.phase_key]?.[c.item_key];
          return;
        }
        const rc = phase.rate_cards[ri];
        if (c.price === undefined && c.entitlement === undefined) {
          errors.push({ field, reason: 'update_item needs a price or an entitlement' });
          return;
        }
        if (c.price !== undefined) rc.price = clone(c.price);
        if (c.entitlement === null) delete rc.entitlement;
        else if (c.entitlement !== undefined) rc.entitlement = clone(c.entitlement);
        mark(c.phase_key, c.item_key, field);
        return;
      }
      case 'stretch_phase': {
        if (!phase.duration || pi === phases.length - 1) {
          errors.push({
            field: `${field}.phase_key`,
            reason: `phase ${c.phase_key} is the last one: it has no end to move`,
          });
          return;
        }
        const r = stretchDuration(phase.duration, c.extend_by, input.phaseStarts?.[c.phase_key]);
        if ('reason' in r) {
          errors.push({ field: `${field}.extend_by`, reason: r.reason });
          return;
        }
        phase.duration = r.duration;
        writtenBy.set(`${c.phase_key}/`, field);
        return;
      }
    }
  });
  return {
    phases,
    origins: { items, ...(Object.keys(replaced).length ? { replaced } : {}) },
    errors,
    writtenBy,
  };
}

/**
 * Maps a `validatePlan` error on the derived phases (`body.phases[i].rate_cards[j]…`) onto the change
 * that wrote that item (`<change field>…`); other fields are kept.
 */
export function errorField(
  field: string,
  phases: readonly PlanPhaseInput[],
  writtenBy: ReadonlyMap<string, string>,
): string {
  const m = /^body\.phases\[(\d+)\](?:\.rate_cards\[(\d+)\])?(.*)$/.exec(field);
  if (!m) return field;
  const phase = phases[Number(m[1])];
  if (!phase) return field;
  if (m[2] === undefined) return writtenBy.get(`${phase.key}/`) ?? field;
  const rc = phase.rate_cards[Number(m[2])];
  const by = rc && writtenBy.get(`${phase.key}/${rc.key}`);
  return by ? `${by}${m[3]}` : field;
}
