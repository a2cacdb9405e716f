/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Entitlement access follows the real subscription workflow (time-skipping Temporal server, real worker and
 * activities, real API): a boolean rate card grants access from the start, an immediate migration to a plan
 * version without it removes the feature, and an immediate cancelation removes all access — each visible
 * as soon as the API call that changed the subscription has answered.
 */
import type { TestApp } from '../support/app';
import { ok, P } from '../support/api';
import { createHarness, type Harness } from '../support/harness';

jest.setTimeout(120_000);

let h: Harness;
let app: TestApp;

beforeAll(async () => {
  h = await createHarness();
  app = h.app;
});

afterAll(async () => {
  await h?.close();
});

async function access(customer: string): Promise<Record<string, any>> {
  const body = await ok(app.api.get(`${P}/customers/${customer}/entitlement-access`), 200);
  return Object.fromEntries(body.data.map((e: any) => [e.feature_key, e]));
}

async function publishPlan(rateCards: Record<string, unknown>[]) {
  const plan = await ok(
    app.api.post(`${P}/plans`).send({
      key: 'team',
      name: 'Team',
      currency: 'USD',
      billing_cadence: 'P1M',
      phases: [{ key: 'default', name: 'Default', rate_cards: rateCards }],
    }),
    201,
  );
  return ok(app.api.post(`${P}/plans/${plan.id}/publish`), 200);
}

it('access follows a boolean rate card through start, an immediate migration and cancelation', async () => {
  const sso = await ok(app.api.post(`${P}/features`).send({ key: 'sso', name: 'SSO' }), 201);
  const audit = await ok(app.api.post(`${P}/features`).send({ key: 'audit-log', name: 'Audit log' }), 201);
  const flag = (feature: { id: string; key: string }) => ({
    key: feature.key,
    name: feature.key,
    feature: { id: feature.id },
    billing_cadence: 'P1M',
    price: { type: 'flat', amount: '0' },
    entitlement: { type: 'boolean' },
  });
  const v1 = await publishPlan([flag(sso), flag(audit)]);
  await ok(app.api.post(`${P}/customers`).send({ key: 'acme', name: 'Acme', currency: 'USD' }), 201);

  // before any subscription: nothing
  expect(await access('acme')).toEqual({});

  const sub = await ok(
    app.api.post(`${P}/subscriptions`).send({ customer: { key: 'acme' }, plan: { key: 'team' } }),
    201,
  );
  expect(sub.plan).toMatchObject({ id: v1.id, version: 1 });
  expect(await access('acme')).toEqual({
    'audit-log': { feature_key: 'audit-log', type: 'boolean', has_access: true },
    sso: { feature_key: 'sso', type: 'boolean', has_access: true },
  });

  // v2 drops SSO; migrating immediately removes it at once
  const v2 = await publishPlan([flag(audit)]);
  const migrated = await ok(
    app.api.post(`${P}/subscriptions/${sub.id}/migrate`).send({ timing: 'immediate' }),
    200,
  );
  expect(migrated.plan).toMatchObject({ id: v2.id, version: 2 });
  expect(await access('acme')).toEqual({
    'audit-log': { feature_key: 'audit-log', type: 'boolean', has_access: true },
  });
  const q = await ok(
    app.api.post(`${P}/entitlement-access/query`).send({
      customer: { keys: ['acme'] },
      feature: { keys: ['sso', 'audit-log'] },
    }),
    200,
  );
  expect(q.data[0].features).toEqual({
    'audit-log': { has_access: true, type: 'boolean' },
    sso: { has_access: false, reason: { code: 'feature_unavailable', message: expect.any(String) } },
  });

  // cancelation: no access left
  const canceled = await ok(
    app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' }),
    200,
  );
  expect(canceled.status).toBe('inactive');
  expect(await access('acme')).toEqual({});
});
