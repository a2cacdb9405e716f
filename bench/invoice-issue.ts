/**
 * invoice-issue: `issueInvoice` throughput alone (no Temporal), the path whose number assignment item 9 of
 * issue 9 changed (a counter row locked from the insert to the commit instead of a sequence).
 *
 * Seed: a `sum(tokens)` meter and feature, a monthly plan (one usage rate card, one flat fee), CUSTOMERS
 * customers with EVENTS events each in January. Then BENCH_INVOICES invoices (distinct keys, customers
 * round-robin) are issued with BENCH_INVOICE_CONCURRENCY calls in flight, each with its own entity manager
 * (pool = concurrency). Verifies one invoice per key and numbers 1..N without a gap.
 *
 * Env: BENCH_INVOICES (2000), BENCH_INVOICE_CONCURRENCY (16), BENCH_INVOICE_CUSTOMERS (200).
 */
import { RequestContext } from '@mikro-orm/core';
import { createCatalogService } from '../src/catalog/service';
import { issueInvoice } from '../src/billing/service';
import { newId } from '../src/lib/ids';
import { createMeter } from '../src/metering/service';
import { fmtInt, progress } from './lib/progress';
import type { Benchmark } from './lib/types';

const M = Number(process.env.BENCH_INVOICES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_INVOICE_CONCURRENCY ?? 16);
const CUSTOMERS = Number(process.env.BENCH_INVOICE_CUSTOMERS ?? 200);
const EVENTS = 5;

export const invoiceIssue: Benchmark = {
  name: 'invoice-issue',
  description: `${fmtInt(M)} invoices through issueInvoice, ${CONCURRENCY} at a time (PostgreSQL only)`,
  async run(db) {
    const { orm } = await db.fresh('invoice_issue', CONCURRENCY + 2);
    const em = () => orm.em.fork();
    const catalog = createCatalogService({ orm });
    // one EntityManager per service call, as the API has one per request (src/db/README.md)
    const inRequest = <T>(f: () => Promise<T>) => RequestContext.create(orm.em, f);
    const conn = orm.em.getConnection();
    const meter = await createMeter(em(), {
      key: 'tokens',
      name: 'Tokens',
      aggregation: 'sum',
      event_type: 'llm_call',
      value_property: '$.tokens',
    });
    const feature = await inRequest(() =>
      catalog.createFeature({ key: 'tokens', name: 'Tokens', meter: { id: meter.id } }),
    );
    const draft = await inRequest(() =>
      catalog.createPlan({
        key: 'monthly',
        name: 'Monthly',
        currency: 'USD',
        billing_cadence: 'P1M',
        phases: [
          {
            key: 'default',
            name: 'Default',
            rate_cards: [
              {
                key: 'tokens',
                name: 'Tokens',
                feature: { id: feature.id },
                billing_cadence: 'P1M',
                price: { type: 'unit', amount: '0.01' },
              },
              { key: 'fee', name: 'Fee', billing_cadence: 'P1M', price: { type: 'flat', amount: '5' } },
            ],
          },
        ],
      }),
    );
    const plan = await inRequest(() => catalog.publishPlan(draft.id));
    await conn.execute(
      `insert into customers (id, key, name, currency, created_at, updated_at)
       select 'BENCHI' || lpad(i::text, 20, '0'), 'customer-' || i, 'Customer ' || i, 'USD', now(), now()
         from generate_series(1, ${CUSTOMERS}) i`,
    );
    await conn.execute(
      `insert into events (source, id, type, subject, time, data, specversion)
       select 'bench', 'e-' || i || '-' || j, 'llm_call', 'customer-' || i,
              timestamptz '2026-01-10T00:00:00Z' + j * interval '1 hour',
              jsonb_build_object('tokens', i + j), '1.0'
         from generate_series(1, ${CUSTOMERS}) i, generate_series(1, ${EVENTS}) j`,
    );
    const customers = await conn.execute<{ id: string }[]>('select id from customers order by id');
    progress(`seeded ${fmtInt(CUSTOMERS)} customers × ${EVENTS} events; issuing ${fmtInt(M)} invoices`);
    const period = {
      planId: plan.id,
      phaseKey: 'default',
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-02-01T00:00:00.000Z',
      cycleFrom: '2026-01-01T00:00:00.000Z',
      cycleTo: '2026-02-01T00:00:00.000Z',
    };
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < M; i = next++) {
          await issueInvoice(em(), {
            invoiceKey: `bench-${i}-${newId()}`,
            subscriptionId: newId(),
            customerId: customers[i % customers.length].id,
            subscriptionStart: period.from,
            arrears: period,
          });
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const nums = (
      await conn.execute<{ n: string }[]>('select substring(number from 5)::int as n from invoices')
    ).map((r) => Number(r.n));
    const distinct = new Set(nums);
    const gapless = distinct.size === M && Math.min(...nums) === 1 && Math.max(...nums) === M;
    if (nums.length !== M || !gapless)
      throw new Error(`${nums.length} invoices, numbers gapless: ${gapless}`);
    return (
      `invoice-issue: ${fmtInt(M)} invoices in ${seconds.toFixed(2)} s (${(M / seconds).toFixed(0)} invoices/s, ` +
      `${CONCURRENCY} concurrent), numbers 1..${fmtInt(M)} without a gap`
    );
  },
};
