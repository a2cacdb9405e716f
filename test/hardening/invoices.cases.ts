/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * Issue 9, invoices: items 1 (workflow side: a failing invoice never blocks the subscription), 9 (gapless
 * invoice numbers) and 10 (the sticky schedule-to-start timeout that delays invoices after a worker crash).
 * Imported by test/integration/hardening.test.ts.
 */
import type { IssueInvoiceInput } from '../../src/billing/contract';
import { issueInvoice } from '../../src/billing/service';
import { newId } from '../../src/lib/ids';
import { createTestApp, type TestApp } from '../support/app';

const P = '/v3/openmeter';

async function ok<T = any>(req: PromiseLike<{ status: number; body: T }>, status: number): Promise<T> {
  const res = await req;
  if (res.status !== status)
    throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

describe('9 invoice numbers are gapless and unique', () => {
  let app: TestApp;
  let planId: string;
  let customerId: string;
  const em = () => app.deps.orm.em.fork();

  beforeAll(async () => {
    app = await createTestApp();
    const customer = await ok(
      app.api.post(`${P}/customers`).send({ key: 'numbers', name: 'Numbers', currency: 'USD' }),
      201,
    );
    customerId = customer.id;
    const meter = await ok(
      app.api.post(`${P}/meters`).send({ key: 'calls', name: 'Calls', aggregation: 'count', event_type: 'call' }),
      201,
    );
    const feature = await ok(
      app.api.post(`${P}/features`).send({ key: 'calls', name: 'Calls', meter: { id: meter.id } }),
      201,
    );
    const plan = await ok(
      app.api.post(`${P}/plans`).send({
        key: 'numbers',
        name: 'Numbers',
        currency: 'USD',
        billing_cadence: 'P1M',
        phases: [
          {
            key: 'default',
            name: 'Default',
            rate_cards: [
              {
                key: 'calls',
                name: 'Calls',
                feature: { id: feature.id },
                billing_cadence: 'P1M',
                price: { type: 'unit', amount: '0.1' },
              },
              { key: 'fee', name: 'Fee', billing_cadence: 'P1M', price: { type: 'flat', amount: '5' } },
            ],
          },
        ],
      }),
      201,
    );
    planId = (await ok(app.api.post(`${P}/plans/${plan.id}/publish`), 200)).id;
  });
  afterAll(async () => {
    await app?.close();
  });

  const input = (): IssueInvoiceInput => ({
    invoiceKey: `numbers-${newId()}`,
    subscriptionId: newId(),
    customerId,
    subscriptionStart: '2026-01-01T00:00:00.000Z',
    arrears: {
      planId,
      phaseKey: 'default',
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-02-01T00:00:00.000Z',
      cycleFrom: '2026-01-01T00:00:00.000Z',
      cycleTo: '2026-02-01T00:00:00.000Z',
    },
  });
  const allNumbers = async () =>
    (await em().execute<{ number: string }[]>('select number from invoices order by number')).map((r) =>
      Number(r.number.slice(4)),
    );

  it('9.1 concurrent issuance with rollbacks in the middle of the transaction → numbers 1..N without gaps', async () => {
    const N = 60;
    const outcomes = await Promise.allSettled(
      Array.from({ length: N }, (_, i) =>
        issueInvoice(em(), input(), {
          // every third transaction fails after its invoice row (and number) was written, before commit
          beforeCommit:
            i % 3 === 1
              ? async (tem) => {
                  // keep the number a while, so that others queue behind it and commit after it rolls back
                  await tem.execute('select pg_sleep(0.02)');
                  throw new Error(`worker died mid-transaction (${i})`);
                }
              : undefined,
        }),
      ),
    );
    const issued = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
    expect(issued).toHaveLength(N - 20);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(20);
    const numbers = await allNumbers();
    expect(numbers).toEqual(Array.from({ length: N - 20 }, (_, i) => i + 1));
    expect(new Set(issued.map((r) => r.number)).size).toBe(N - 20);

    // the rolled-back ones, retried (as the workflow does), take the next numbers: still no gap
    const retried = await Promise.all(Array.from({ length: 5 }, () => issueInvoice(em(), input())));
    expect(retried.every((r) => r.created)).toBe(true);
    expect(await allNumbers()).toEqual(Array.from({ length: N - 15 }, (_, i) => i + 1));
  });

  it('9.2 a connection killed inside the transaction gives its number back', async () => {
    const before = await allNumbers();
    await expect(
      issueInvoice(em(), input(), {
        beforeCommit: async (tem) => {
          await tem.execute('select pg_terminate_backend(pg_backend_pid())');
        },
      }),
    ).rejects.toThrow();
    const ref = await issueInvoice(em(), input());
    expect(Number(ref.number.slice(4))).toBe(before.length + 1);
    expect(await allNumbers()).toEqual(Array.from({ length: before.length + 1 }, (_, i) => i + 1));
  });
});
