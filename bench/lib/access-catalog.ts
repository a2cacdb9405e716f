/**
 * The catalog the two entitlement-access benchmarks seed: a `count` meter on `api_call` events (dimension
 * `model`), the features `api-calls` (metered), `sso` and `seats`, and the published plan `pro` with a
 * metered (hard limit `limit` per month), a boolean and a static rate card.
 */
import { RequestContext } from '@mikro-orm/core';
import type { Orm } from '../../src/db/orm';
import { createCatalogService } from '../../src/catalog/service';
import { createMeter } from '../../src/metering/service';
import { progress } from './progress';

export async function seedAccessCatalog(orm: Orm, limit: number) {
  const catalog = createCatalogService({ orm });
  const inRequest = <T>(f: () => Promise<T>) => RequestContext.create(orm.em, f);
  progress('seeding catalog: meter, features, plan');
  const meter = await createMeter(orm.em.fork(), {
    key: 'api_calls',
    name: 'API calls',
    aggregation: 'count',
    event_type: 'api_call',
    dimensions: { model: '$.model' },
  });
  const calls = await inRequest(() =>
    catalog.createFeature({ key: 'api-calls', name: 'API calls', meter: { id: meter.id } }),
  );
  const sso = await inRequest(() => catalog.createFeature({ key: 'sso', name: 'SSO' }));
  const seats = await inRequest(() => catalog.createFeature({ key: 'seats', name: 'Seats' }));
  const draft = await inRequest(() =>
    catalog.createPlan({
      key: 'pro',
      name: 'Pro',
      currency: 'USD',
      billing_cadence: 'P1M',
      phases: [
        {
          key: 'default',
          name: 'Default',
          rate_cards: [
            {
              key: 'api-calls',
              name: 'API calls',
              feature: { id: calls.id },
              billing_cadence: 'P1M',
              price: { type: 'unit', amount: '0.001' },
              entitlement: { type: 'metered', limit },
            },
            {
              key: 'sso',
              name: 'SSO',
              feature: { id: sso.id },
              billing_cadence: 'P1M',
              price: { type: 'flat', amount: '0' },
              entitlement: { type: 'boolean' },
            },
            {
              key: 'seats',
              name: 'Seats',
              feature: { id: seats.id },
              billing_cadence: 'P1M',
              price: { type: 'flat', amount: '10' },
              entitlement: { type: 'static', config: { seats: 25 } },
            },
          ],
        },
      ],
    }),
  );
  const plan = await inRequest(() => catalog.publishPlan(draft.id));
  return { meter, plan };
}
