/**
 * events-list: `GET /events` listings over 3.4M events (issue 9 item 11), through `listEvents`.
 *
 * Seed: 1,000 customers (Zipf s = 1 as in `query`, half the events under the customer key, half under its
 * usage-attribution subject) over 3 months, plus one customer with 1,000 subjects (100,000 events spread
 * over them) and one customer without events. Measures, sequentially after a warm-up, page 1 and page 2
 * (cursor) of `filter[customer_id]` for a typical customer, the largest one, the many-subjects one and the
 * empty one; `filter[subject]`; and the unfiltered default listing. `page[size]=10` throughout. Also a
 * one-month `sum` meter query filtered by `customer_id` (per-event attribution) for a typical customer and
 * the largest.
 * Knobs: BENCH_LIST_EVENTS (3,400,000), BENCH_LIST_ITERATIONS (100).
 */
import { createMeter, listEvents, queryMeter, type EventListQuery } from '../src/metering/service';
import { fmtInt, progress } from './lib/progress';
import { fmtLatency, measure, rng } from './lib/stats';
import type { Benchmark } from './lib/types';

const CUSTOMERS = 1000;
const EVENTS = Number(process.env.BENCH_LIST_EVENTS ?? 3_400_000);
const ITERATIONS = Number(process.env.BENCH_LIST_ITERATIONS ?? 100);
const MANY = 1000;
const MANY_EVENTS = 100_000;
const SEED_FROM = '2026-08-01T00:00:00Z';
const SEED_TO = '2026-11-01T00:00:00Z';

const cid = (i: number | string) => `BENCHC${String(i).padStart(20, '0')}`;

export const eventsList: Benchmark = {
  name: 'events-list',
  description: 'GET /events listings (customer, subject, default), 3.4M events, page size 10',
  async run(db) {
    const { orm } = await db.fresh('events_list', 4);
    const em = () => orm.em.fork();
    const conn = orm.em.getConnection();

    progress(`seeding ${fmtInt(CUSTOMERS + 2)} customers`);
    await conn.execute(
      `insert into customers (id, key, name, created_at, updated_at)
       select 'BENCHC' || lpad(i::text, 20, '0'), 'customer-' || i, 'Customer ' || i, now(), now()
       from generate_series(1, ?) i`,
      [CUSTOMERS + 2],
    );
    await conn.execute(
      `insert into customer_subjects (subject_key, customer_id)
       select 'subject-' || i, 'BENCHC' || lpad(i::text, 20, '0') from generate_series(1, ?) i`,
      [CUSTOMERS],
    );
    await conn.execute(
      `insert into customer_subjects (subject_key, customer_id)
       select 'many-' || j, ? from generate_series(1, ?) j`,
      [cid(CUSTOMERS + 1), MANY],
    );

    progress(`seeding ${fmtInt(EVENTS)} + ${fmtInt(MANY_EVENTS)} events over 3 months`);
    const seedStart = Date.now();
    const chunk = 1_000_000;
    await conn.execute('select setseed(0.42)');
    for (let start = 0; start < EVENTS; start += chunk) {
      const end = Math.min(EVENTS, start + chunk) - 1;
      await conn.execute(
        `insert into events (source, id, type, subject, time, data, specversion)
         select 'bench', i::text, 'llm_call',
           case when i % 2 = 0 then 'customer-' else 'subject-' end || r.rank,
           ?::timestamptz + (?::timestamptz - ?::timestamptz) * (i::float8 / ?::float8),
           jsonb_build_object('tokens', 1 + floor(random() * 2000)::int), '1.0'
         from generate_series(?::bigint, ?::bigint) i,
           lateral (select least(?::int, floor(power(?::float8 + 1, random() + i * 0))::int) as rank) r`,
        [SEED_FROM, SEED_TO, SEED_FROM, EVENTS, start, end, CUSTOMERS, CUSTOMERS],
      );
      progress(`  events ${fmtInt(end + 1)} / ${fmtInt(EVENTS)}`);
    }
    await conn.execute(
      `insert into events (source, id, type, subject, time, data, specversion)
       select 'bench-many', i::text, 'llm_call', 'many-' || (1 + i % ?),
         ?::timestamptz + (?::timestamptz - ?::timestamptz) * (i::float8 / ?::float8),
         jsonb_build_object('tokens', 1), '1.0'
       from generate_series(0, ? - 1) i`,
      [MANY, SEED_FROM, SEED_TO, SEED_FROM, MANY_EVENTS, MANY_EVENTS],
    );
    progress('vacuum analyze');
    await conn.execute('vacuum analyze');
    const seedS = (Date.now() - seedStart) / 1000;
    progress(`seeded in ${seedS.toFixed(0)} s`);

    const rand = rng(7);
    const typical = () => cid(1 + Math.floor(rand() * CUSTOMERS));
    const list = (f: Omit<EventListQuery, 'size'>) => listEvents(em(), { size: 10, ...f });
    /** page 1 then page 2 through the returned cursor */
    const twoPages = async (f: Omit<EventListQuery, 'size'>) => {
      const p1 = await list(f);
      if (p1.meta.page.next) await list({ ...f, after: p1.meta.page.next });
    };
    const tokens = await createMeter(em(), {
      key: 'tokens',
      name: 'Tokens',
      aggregation: 'sum',
      event_type: 'llm_call',
      value_property: '$.tokens',
    });
    const october = { from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:00Z' };
    const byCustomer = (id: string) =>
      queryMeter(em(), tokens, { ...october, filters: { dimensions: { customer_id: { eq: id } } } });
    const cases: [string, () => Promise<unknown>][] = [
      ['customer/typical', () => list({ customer_id: typical() })],
      ['customer/largest', () => list({ customer_id: cid(1) })],
      ['customer/1000-subjects', () => list({ customer_id: cid(CUSTOMERS + 1) })],
      ['customer/no-events', () => list({ customer_id: cid(CUSTOMERS + 2) })],
      ['customer/typical-2-pages', () => twoPages({ customer_id: typical() })],
      ['subject/typical', () => list({ subject: `customer-${1 + Math.floor(rand() * CUSTOMERS)}` })],
      ['default', () => list({})],
      ['default-2-pages', () => twoPages({})],
      // oldest first (sort=time asc): the same indexes, forwards
      ['customer/typical-asc', () => list({ customer_id: typical(), asc: true })],
      ['customer/typical-asc-2-pages', () => twoPages({ customer_id: typical(), asc: true })],
      ['default-asc-2-pages', () => twoPages({ asc: true })],
      // the attribution SQL per event (meter query filtered by customer_id), one month
      ['meter-query-customer/typical', () => byCustomer(typical())],
      ['meter-query-customer/largest', () => byCustomer(cid(1))],
    ];
    const results: string[] = [];
    for (const [name, fn] of cases) {
      progress(`measuring ${name} (${ITERATIONS} runs)`);
      const l = await measure(fn, { iterations: ITERATIONS, warmup: Math.min(5, ITERATIONS) });
      progress(`  ${fmtLatency(name, l)}`);
      results.push(fmtLatency(name, l));
    }
    return `events-list (${fmtInt(EVENTS + MANY_EVENTS)} events, seed ${seedS.toFixed(0)} s): ${results.join(' ')}`;
  },
};
