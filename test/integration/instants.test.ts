/**
 * One rule for every instant a request carries (`dateTime` in src/api/schemas.ts, `isRfc3339`): a real
 * calendar date and an offset PostgreSQL can read (at most ±15:59). Schemathesis found `-22:22` answered 500
 * on the notification events filter; each route that takes an instant refuses it with a 400 naming the field.
 */
import { createTestApp, type TestApp } from '../support/app';
import { P } from '../support/api';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

const BAD = '2026-09-07T12:21:53-22:22';
const GOOD = '2026-09-07T12:21:53-02:00';

it.each([
  ['notification events', `${P}/notification/events?filter[from]=`, 'query.filter[from]'],
  ['invoices by issue time', `${P}/billing/invoices?filter[issued_at][gte]=`, 'query.filter[issued_at][gte]'],
])('%s: an offset beyond ±15:59 is a 400 naming the field; a real one is accepted', async (_, url, field) => {
  const bad = await app.api.get(url + encodeURIComponent(BAD));
  expect(bad.status).toBe(400);
  expect(bad.body.invalid_parameters.map((p: { field: string }) => p.field)).toContain(field);
  expect((await app.api.get(url + encodeURIComponent(GOOD))).status).toBe(200);
});

it('a profile anchor with an impossible date or offset is a 400 on its field', async () => {
  for (const anchor of [BAD, '2026-02-30T00:00:00Z']) {
    const res = await app.api.post(`${P}/profiles`).send({
      name: 'Anchored',
      supplier: { name: 'Tally Test Ltd' },
      default: false,
      workflow: {
        collection: { alignment: { type: 'anchored', recurring_period: { anchor, interval: 'P1M' } } },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.invalid_parameters.map((p: { field: string }) => p.field).join(' ')).toMatch(/anchor/);
  }
});
