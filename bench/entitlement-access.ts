/**
 * entitlement-access: the API-gateway hot path. 1,000 customers (each with one extra usage-attribution
 * subject) on a plan with a metered (hard limit), a boolean and a static rate card, one active
 * subscription row each, ~1M events over the last 40 days (about a quarter of them in the current usage
 * period). Measures the access query for 1 and for 50 customers beside two baselines from the same run: a
 * `select 1` round trip and ONE customer's raw usage SQL (the statement `aggregateUsage` runs).
 */
import { RequestContext } from '@mikro-orm/core';
import { createEntitlementsService } from '../src/entitlements/service';
import { buildMeterQuery, getMeter } from '../src/metering/service';
import { exec } from '../src/db/sql';
import { fmtInt, progress } from './lib/progress';
import { seedCustomersWithSubscriptions } from './lib/seed';
import { fmtLatency, measure, rng } from './lib/stats';
import type { Benchmark } from './lib/types';
import { seedAccessCatalog } from './lib/access-catalog';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 500);
const DAY = 24 * 3600 * 1000;

export const entitlementAccess: Benchmark = {
  name: 'entitlement-access',
  description: 'POST /entitlement-access/query service path: 1 and 50 customers, 1M events',
  async run(db) {
    const { orm } = await db.fresh('entitlement_access', 4);
    const em = () => orm.em.fork();
    // one EntityManager per service call, as the API has one per request (src/db/README.md)
    const inRequest = <T>(f: () => Promise<T>) => RequestContext.create(orm.em, f);
    const entitlements = createEntitlementsService({ orm });
    const now = new Date();
    const anchor = new Date(now.getTime() - 10 * DAY);

    const { meter, plan } = await seedAccessCatalog(orm, 300);

    progress(`seeding ${fmtInt(CUSTOMERS)} customers with subjects and subscriptions`);
    const conn = orm.em.getConnection();
    await seedCustomersWithSubscriptions(conn, { count: CUSTOMERS, plan, anchor: anchor.toISOString() });

    progress(`seeding ${fmtInt(EVENTS)} events over 40 days (generate_series)`);
    const chunk = 250_000;
    for (let start = 1; start <= EVENTS; start += chunk) {
      const end = Math.min(EVENTS, start + chunk - 1);
      // alternate the customer key and its subject; spread times uniformly over the last 40 days
      await conn.execute(
        `insert into events (source, id, type, subject, time, data, specversion)
         select 'bench', i::text, 'api_call',
           case when i % 2 = 0 then 'customer-' else 'subject-' end || (1 + (i / 2) % ?),
           ?::timestamptz - (interval '40 days') * ((i * 7919) % ? )::float8 / ?,
           jsonb_build_object('model', case when i % 3 = 0 then 'gpt' else 'claude' end), '1.0'
         from generate_series(?::bigint, ?::bigint) i`,
        [CUSTOMERS, now.toISOString(), EVENTS, EVENTS, start, end],
      );
      progress(`  events ${fmtInt(end)} / ${fmtInt(EVENTS)}`);
    }
    progress('vacuum analyze');
    await conn.execute('vacuum analyze');

    const keys = Array.from({ length: CUSTOMERS }, (_, i) => `customer-${i + 1}`);
    const rand = rng(42);
    const pick = (n: number) => Array.from({ length: n }, () => keys[Math.floor(rand() * keys.length)]);

    // sanity: the answer is what the seed implies (the metered feature sees this period's events)
    const sample = await inRequest(() => entitlements.queryAccess({ customer: { keys: ['customer-1'] } }));
    const f = sample.data[0]?.features;
    if (!f || !f['api-calls'] || !f.sso?.has_access || !f.seats?.has_access)
      throw new Error(`unexpected answer: ${JSON.stringify(sample)}`);
    progress(
      `sample: customer-1 api-calls usage=${f['api-calls'].usage} has_access=${f['api-calls'].has_access}`,
    );

    progress(`measuring select 1 (${ITERATIONS} runs)`);
    const select1 = await measure(() => conn.execute('select 1'), { iterations: ITERATIONS });

    progress(`measuring one customer's raw usage SQL (${ITERATIONS} runs)`);
    const meterDto = await getMeter(em(), meter.id);
    const periodFrom = anchor.toISOString();
    const periodTo = new Date(anchor.getTime() + 31 * DAY).toISOString();
    const usageSql = await measure(
      (i) => {
        const k = keys[i % keys.length];
        const q = buildMeterQuery(meterDto, {
          from: periodFrom,
          to: periodTo,
          subjects: [k, k.replace('customer-', 'subject-')],
        });
        return exec(orm.em.fork(), q);
      },
      { iterations: ITERATIONS },
    );

    progress(`measuring the access query for 1 customer (${ITERATIONS} runs)`);
    const one = await measure(
      () => inRequest(() => entitlements.queryAccess({ customer: { keys: pick(1) } })),
      {
        iterations: ITERATIONS,
      },
    );

    const it50 = Math.max(50, Math.floor(ITERATIONS / 2));
    progress(`measuring the access query for 50 customers (${it50} runs)`);
    const fifty = await measure(
      () => inRequest(() => entitlements.queryAccess({ customer: { keys: pick(50) } })),
      {
        iterations: it50,
      },
    );

    return [
      `entitlement-access (${fmtInt(CUSTOMERS)} customers, ${fmtInt(EVENTS)} events):`,
      fmtLatency('select1', select1),
      '|',
      fmtLatency('usage-sql×1', usageSql),
      '|',
      fmtLatency('access×1', one),
      '|',
      fmtLatency('access×50', fifty),
    ].join(' ');
  },
};
