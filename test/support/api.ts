/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked by the tests */
/** API helpers shared by every test: the status-checking `ok()` and catalog/customer fixtures built through the API. */
import { newId } from '../../src/lib/ids';
import type { TestApp } from './app';
import { expectServedSchema } from './served-schema';

export const P = '/v3/openmeter';

/** Awaits a supertest request, fails with the body unless it answered `status`, and returns the body. */
export async function ok<T = any>(req: PromiseLike<{ status: number; body: T }>, status: number): Promise<T> {
  const res = await req;
  if (res.status !== status)
    throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export interface UsageRateCard {
  featureId: string;
  /** unit price (decimal string) */
  price: string;
  /** rate card key and name; default `calls` / `Calls` */
  key?: string;
  name?: string;
  entitlement?: Record<string, unknown>;
  /** billing cadence; default P1M */
  cadence?: string;
}

/** A rate card (monthly unless `cadence` says) billing `featureId` per unit at `price`, with an optional entitlement. */
export const usageRateCard = (c: UsageRateCard): Record<string, unknown> => ({
  key: c.key ?? 'calls',
  name: c.name ?? 'Calls',
  feature: { id: c.featureId },
  billing_cadence: c.cadence ?? 'P1M',
  price: { type: 'unit', amount: c.price },
  ...(c.entitlement ? { entitlement: c.entitlement } : {}),
});

/** A monthly flat fee rate card (no feature). */
export const flatFeeRateCard = (amount: string, key = 'fee', name = 'Fee'): Record<string, unknown> => ({
  key,
  name,
  billing_cadence: 'P1M',
  price: { type: 'flat', amount },
});

/** The single phase `default` with these rate cards. */
export const defaultPhase = (rateCards: Record<string, unknown>[]): Record<string, unknown>[] => [
  { key: 'default', name: 'Default', rate_cards: rateCards },
];

/** Catalog and customer set-up through the API. */
export function fixtures(app: TestApp) {
  const f = {
    /** a USD customer named `Customer <key>` unless `extra` says otherwise */
    customer: (key: string, extra: Record<string, unknown> = {}) =>
      ok(
        app.api.post(`${P}/customers`).send({ key, name: `Customer ${key}`, currency: 'USD', ...extra }),
        201,
      ),
    meter: (body: Record<string, unknown>) => ok(app.api.post(`${P}/meters`).send(body), 201),
    feature: (body: Record<string, unknown>) => ok(app.api.post(`${P}/features`).send(body), 201),
    /**
     * a meter counting `event_type` events and a feature of the same key on it; default the meter and
     * feature `calls` (name `Calls`) counting `call` events
     */
    async meteredFeature(m: { key?: string; name?: string; event_type?: string } = {}) {
      const key = m.key ?? 'calls';
      const name = m.name ?? 'Calls';
      const meter = await f.meter({ key, name, aggregation: 'count', event_type: m.event_type ?? 'call' });
      const feature = await f.feature({ key, name, meter: { id: meter.id } });
      return { meter, feature };
    },
    /** the meter `active_users` (unique `$.user_id` of `request` events) and its feature `active-users` */
    async activeUsers() {
      const meter = await f.meter({
        key: 'active_users',
        name: 'Active users',
        aggregation: 'unique_count',
        event_type: 'request',
        value_property: '$.user_id',
      });
      const feature = await f.feature({ key: 'active-users', name: 'Active users', meter: { id: meter.id } });
      return { meter, feature };
    },
    /** creates (and publishes) a plan version; a second call with the same key creates the next version */
    async plan(key: string, phases: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
      const plan = await ok(
        app.api.post(`${P}/plans`).send({
          key,
          name: `Plan ${key}`,
          currency: 'USD',
          billing_cadence: 'P1M',
          phases,
          ...extra,
        }),
        201,
      );
      return ok(app.api.post(`${P}/plans/${plan.id}/publish`), 200);
    },
    /** publishes plan `key`: one phase `default` with one usage rate card (plus `more` rate cards after it) */
    meteredPlan: (
      key: string,
      card: UsageRateCard,
      opts: { name?: string; more?: Record<string, unknown>[] } = {},
    ) =>
      f.plan(
        key,
        defaultPhase([usageRateCard(card), ...(opts.more ?? [])]),
        opts.name ? { name: opts.name } : {},
      ),
    async ingest(events: { type: string; subject: string; time: Date | string; data: unknown }[]) {
      await ok(
        app.api
          .post(`${P}/events`)
          .set('Content-Type', 'application/cloudevents-batch+json')
          .send(
            events.map((e) => ({
              specversion: '1.0',
              id: newId(),
              source: 'subscription-test',
              ...e,
              time: new Date(e.time).toISOString(),
            })),
          ),
        202,
      );
    },
    subscribe: (body: Record<string, unknown>) => ok(app.api.post(`${P}/subscriptions`).send(body), 201),
    /** a subscription, checked against the served document's `Subscription` schema */
    get: async (id: string) => {
      const body = await ok(app.api.get(`${P}/subscriptions/${id}`), 200);
      expectServedSchema('Subscription', body);
      return body;
    },
  };
  return f;
}
