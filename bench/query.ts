/**
 * query: meter queries and the invoice preview over 10M events (3 months, 1,000 customers, 50,000 users).
 *
 * Seed (SQL `insert ... select ... from generate_series`, in time order like live traffic): customer of
 * each event drawn from a continuous Zipf (s = 1) over ranks 1..1000, so customer-1 sends ~10% of the
 * events and the median customer ~0.03%; half the events under the customer key, half under its
 * usage-attribution subject; `data = {user_id, tokens, model}` with user ids skewed over 50,000 users.
 * A `unique_count` meter on `$.user_id`, a `sum` meter on `$.tokens`, a plan with a usage price on each
 * and an active subscription row per customer (period = the measured month).
 *
 * Measures, sequentially after a warm-up, through the service functions: a one-month `unique_count`, a
 * one-month `sum`, a one-month `sum` at `P1D` granularity (`queryMeter`) and `previewInvoice`, each for a
 * typical customer (uniformly drawn among the 1,000) and for the largest one; plus the HTTP overhead once
 * (the same one-month `sum` through `POST /meters/{id}/query` on a listening server).
 */
import type { AddressInfo } from 'node:net';
import { previewInvoice } from '../src/billing/service';
import { RequestContext } from '@mikro-orm/core';
import { createCatalogService } from '../src/catalog/service';
import { createApp } from '../src/api/app';
import { loadConfig } from '../src/config';
import { logger } from '../src/lib/logger';
import {
  checkRollups,
  createMeter,
  queryMeter,
  rollForward,
  type MeterDto,
  type MeterQuery,
} from '../src/metering/service';
import { fmtInt, progress } from './lib/progress';
import { seedCustomersWithSubscriptions } from './lib/seed';
import { fmtLatency, measure, rng, type Latency } from './lib/stats';
import type { Benchmark } from './lib/types';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1000);
const EVENTS = Number(process.env.BENCH_QUERY_EVENTS ?? 10_000_000);
const USERS = Number(process.env.BENCH_USERS ?? 50_000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 300);
const ITERATIONS_LARGEST = Number(process.env.BENCH_ITERATIONS_LARGEST ?? 50);

/** the seeded span: 3 months, events in time order */
const SEED_FROM = '2026-08-01T00:00:00Z';
const SEED_TO = '2026-11-01T00:00:00Z';
/** the measured month (the subscriptions' current period) */
const MONTH_FROM = '2026-10-01T00:00:00Z';
const MONTH_TO = '2026-11-01T00:00:00Z';
/** the preview's "now": late in the period */
const PREVIEW_NOW = new Date('2026-10-31T00:00:00Z');

export const query: Benchmark = {
  name: 'query',
  description: 'meter queries and invoice preview, 10M events over 3 months, 1,000 customers (Zipf)',
  async run(db) {
    const { orm, url } = await db.fresh('query', 4);
    const em = () => orm.em.fork();
    const catalog = createCatalogService({ orm });
    // one EntityManager per service call, as the API has one per request (src/db/README.md)
    const inRequest = <T>(f: () => Promise<T>) => RequestContext.create(orm.em, f);
    const conn = orm.em.getConnection();

    progress('seeding catalog: meters, features, plan');
    const users = await createMeter(em(), {
      key: 'active_users',
      name: 'Active users',
      aggregation: 'unique_count',
      event_type: 'llm_call',
      value_property: '$.user_id',
      dimensions: { model: '$.model' },
    });
    const tokens = await createMeter(em(), {
      key: 'tokens',
      name: 'Tokens',
      aggregation: 'sum',
      event_type: 'llm_call',
      value_property: '$.tokens',
      dimensions: { model: '$.model' },
    });
    const fUsers = await inRequest(() =>
      catalog.createFeature({ key: 'users', name: 'Users', meter: { id: users.id } }),
    );
    const fTokens = await inRequest(() =>
      catalog.createFeature({ key: 'tokens', name: 'Tokens', meter: { id: tokens.id } }),
    );
    const draft = await inRequest(() =>
      catalog.createPlan({
        key: 'ai',
        name: 'AI',
        currency: 'USD',
        billing_cadence: 'P1M',
        phases: [
          {
            key: 'default',
            name: 'Default',
            rate_cards: [
              {
                key: 'users',
                name: 'Active users',
                feature: { id: fUsers.id },
                billing_cadence: 'P1M',
                price: { type: 'unit', amount: '2' },
              },
              {
                key: 'tokens',
                name: 'Tokens',
                feature: { id: fTokens.id },
                billing_cadence: 'P1M',
                price: { type: 'unit', amount: '0.00001' },
              },
              {
                key: 'platform',
                name: 'Platform fee',
                billing_cadence: 'P1M',
                price: { type: 'flat', amount: '49' },
              },
            ],
          },
        ],
      }),
    );
    const plan = await inRequest(() => catalog.publishPlan(draft.id));

    progress(`seeding ${fmtInt(CUSTOMERS)} customers with subjects and subscriptions`);
    await seedCustomersWithSubscriptions(conn, {
      count: CUSTOMERS,
      plan,
      anchor: SEED_FROM,
      period: { from: MONTH_FROM, to: MONTH_TO },
    });

    progress(`seeding ${fmtInt(EVENTS)} events over 3 months (generate_series, time order)`);
    const seedStart = Date.now();
    const chunk = 1_000_000;
    await conn.execute('select setseed(0.42)');
    for (let start = 0; start < EVENTS; start += chunk) {
      const end = Math.min(EVENTS, start + chunk) - 1;
      // rank = floor((N+1)^u) is a continuous Zipf (s = 1) over 1..N: rank 1 gets ln 2 / ln(N+1) ≈ 10%
      await conn.execute(
        `insert into events (source, id, type, subject, time, data, specversion)
         select 'bench', i::text, 'llm_call',
           case when i % 2 = 0 then 'customer-' else 'subject-' end || r.rank,
           ?::timestamptz + (?::timestamptz - ?::timestamptz) * (i::float8 / ?::float8),
           jsonb_build_object(
             'user_id', 'user-' || ((r.rank * 7919 + floor(power(random(), 2) * ?::int)::int) % ?::int),
             'tokens', 1 + floor(random() * 2000)::int,
             'model', case when i % 3 = 0 then 'large' else 'small' end),
           '1.0'
         from generate_series(?::bigint, ?::bigint) i,
           lateral (select least(?::int, floor(power(?::float8 + 1, random() + i * 0))::int) as rank) r`,
        [SEED_FROM, SEED_TO, SEED_FROM, EVENTS, USERS, USERS, start, end, CUSTOMERS, CUSTOMERS],
      );
      progress(`  events ${fmtInt(end + 1)} / ${fmtInt(EVENTS)}`);
    }
    const insertMs = Date.now() - seedStart;
    progress('vacuum analyze');
    await conn.execute('vacuum analyze');
    const seedS = (Date.now() - seedStart) / 1000;
    const [{ share }] = await conn.execute<{ share: string }[]>(
      `select round(100.0 * count(*) filter (where subject in ('customer-1', 'subject-1')) / count(*), 1)::text
         as share from events`,
    );
    progress(
      `seeded in ${seedS.toFixed(0)} s (insert ${(insertMs / 1000).toFixed(0)} s); customer-1 sends ${share}%`,
    );

    const keys = Array.from({ length: CUSTOMERS }, (_, i) => `customer-${i + 1}`);
    const rand = rng(7);
    const typical = () => keys[Math.floor(rand() * keys.length)];
    const largest = () => 'customer-1';
    const subjectsOf = (k: string) => [k, k.replace('customer-', 'subject-')];
    const month: MeterQuery = { from: MONTH_FROM, to: MONTH_TO };

    const q = (m: MeterDto, extra: Partial<MeterQuery>, rollups: boolean) => (k: string) =>
      queryMeter(em(), m, { ...month, ...extra, subjects: subjectsOf(k) }, { rollups });
    // the seeded customers' ids (bench/lib/seed.ts)
    const customerIdOf = (k: string) => `BENCHC${k.replace('customer-', '').padStart(20, '0')}`;
    const cases = (rollups: boolean): [string, (k: string) => Promise<unknown>][] => [
      ['unique_count', q(users, {}, rollups)],
      ['sum', q(tokens, {}, rollups)],
      ['sum-P1D', q(tokens, { granularity: 'P1D' }, rollups)],
      [
        'sum-customer_id',
        (k) =>
          queryMeter(
            em(),
            tokens,
            { ...month, filters: { dimensions: { customer_id: { eq: customerIdOf(k) } } } },
            { rollups },
          ),
      ],
      ['preview', (k) => previewInvoice(em(), k, PREVIEW_NOW)],
    ];

    const sample = await previewInvoice(em(), 'customer-1', PREVIEW_NOW);
    progress(
      `sample: customer-1 preview total=${sample.totals.total} ` +
        sample.lines?.map((l) => `${l.rate_card_key}=${l.quantity}`).join(' '),
    );

    const measureAll = async (label: string, rollups: boolean): Promise<string> => {
      const out: string[] = [];
      for (const [name, fn] of cases(rollups)) {
        progress(`[${label}] measuring ${name}, typical customer (${ITERATIONS} runs)`);
        const t: Latency = await measure(() => fn(typical()), { iterations: ITERATIONS });
        progress(`  ${fmtLatency(`${name}/typical`, t)}`);
        progress(`[${label}] measuring ${name}, largest customer (${ITERATIONS_LARGEST} runs)`);
        const l: Latency = await measure(() => fn(largest()), {
          iterations: ITERATIONS_LARGEST,
          warmup: 5,
        });
        progress(`  ${fmtLatency(`${name}/largest`, l)}`);
        out.push(`${fmtLatency(`${name}/typical`, t)} ${fmtLatency(`${name}/largest`, l)}`);
      }
      return `${label}: ${out.join(' | ')}`;
    };

    // the baseline: the raw statement (no rollups built yet; the preview reads raw events through them)
    const results: string[] = [await measureAll('raw', false)];

    // rollups built from the seeded events, as `npm run rollups -- roll` does
    progress('building rollups (sum and unique_count meters, one day of events per transaction)');
    const built: string[] = [];
    let differing = 0;
    for (const m of [tokens, users]) {
      const buildStart = Date.now();
      await rollForward(em(), m, {
        until: new Date(SEED_TO),
        onProgress: (p) => {
          if (p.coveredTo.endsWith('00:00:00+00') && p.coveredTo.slice(8, 10) === '01')
            progress(
              `  ${m.key}: covered to ${p.coveredTo} (${((Date.now() - buildStart) / 1000).toFixed(0)} s)`,
            );
        },
      });
      const buildS = (Date.now() - buildStart) / 1000;
      const [{ n: rollupRows }] = await conn.execute<{ n: string }[]>(
        `select ((select count(*) from meter_rollups where meter_id = ?)
           + (select count(*) from meter_rollup_values where meter_id = ?))::text as n`,
        [m.id, m.id],
      );
      const check = await checkRollups(em(), m.id);
      differing += check.differing;
      progress(
        `${m.key} rollups built in ${buildS.toFixed(1)} s: ${fmtInt(Number(rollupRows))} rows; check: ${check.differing} differ`,
      );
      built.push(`${m.key} in ${buildS.toFixed(0)} s, ${fmtInt(Number(rollupRows))} rows`);
    }
    await conn.execute('vacuum analyze meter_rollups');
    await conn.execute('vacuum analyze meter_rollup_values');
    const checkSample = await previewInvoice(em(), 'customer-1', PREVIEW_NOW);
    if (checkSample.totals.total !== sample.totals.total)
      throw new Error(`preview over rollups ${checkSample.totals.total} != raw ${sample.totals.total}`);
    results.push(`rollups (${built.join('; ')}; ${differing} differing)`);
    results.push(await measureAll('rolled', true));

    progress('measuring the HTTP overhead (POST /meters/{id}/query, sum, typical customer)');
    const token = 'bench-token-0123456789abcdefghijklmn';
    const config = loadConfig({ DATABASE_URL: url, TALLY_API_TOKENS: token, LOG_LEVEL: 'silent' });
    const app = createApp({ config, orm, logger });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    const port = (server.address() as AddressInfo).port;
    let http: Latency;
    let direct: Latency;
    try {
      // the route takes a customer filter, not subjects: filter by the customer's id
      const ids = keys.map((_, i) => `BENCHC${String(i + 1).padStart(20, '0')}`);
      const body = (id: string) =>
        JSON.stringify({ ...month, filters: { dimensions: { customer_id: { eq: id } } } });
      const r2 = rng(11);
      const post = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/v3/openmeter/meters/${tokens.id}/query`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: body(ids[Math.floor(r2() * ids.length)]),
        });
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
        await res.json();
      };
      const r3 = rng(11);
      direct = await measure(
        () =>
          queryMeter(em(), tokens, {
            ...month,
            filters: { dimensions: { customer_id: { eq: ids[Math.floor(r3() * ids.length)] } } },
          }),
        { iterations: ITERATIONS },
      );
      http = await measure(post, { iterations: ITERATIONS });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    results.push(`${fmtLatency('sum/customer_id service', direct)} ${fmtLatency('http', http)}`);

    return [
      `query (${fmtInt(EVENTS)} events, ${fmtInt(CUSTOMERS)} customers, largest ${share}%, seed ${seedS.toFixed(0)} s):`,
      results.join(' | '),
    ].join(' ');
  },
};
