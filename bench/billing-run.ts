/**
 * billing-run: one billing cycle of N subscriptions that all end their period in the same minute, end to
 * end — the real Temporal dev server (temporal CLI `server start-dev`, temp data dir, free ports, Tally's
 * search attributes), the real worker (`src/cli/worker.ts` as a child process, so its RSS is its own),
 * and PostgreSQL.
 *
 * Seed: a `sum(tokens)` meter, a feature, a `PT1M` plan with one usage rate card (0.01 USD per token), N
 * customers (SQL). N subscriptions are created through the subscriptions service (the path
 * `POST /subscriptions` takes: row + workflow start), CONCURRENCY at a time, all with the same billing
 * anchor (minute start + 5 s), so every subscription's period ends at the same instants. Once all exist,
 * the measured boundary B is the first grid instant at least LEAD seconds later; each customer gets 1–5
 * events inside [B − 2 s, B) (bulk SQL) plus one event at B exactly (next period: must not be billed).
 *
 * Measures: the time from B + collection period (when the invoices become due) until all N invoices of
 * the period ending at B are stored; worker RSS (VmRSS of the worker process) while the subscriptions
 * sleep (just before a boundary, after CHECKPOINT and after N subscriptions) and its peak during the run;
 * the Temporal history events of the measured cycle (from B until the workflow sleeps again, across
 * runs if it continued as new) for a sample of subscriptions. Verifies exactly N invoices for the period, one per
 * subscription, each total = the customer's seeded tokens × 0.01.
 *
 * Env: BENCH_SUBSCRIPTIONS (1000: the 10,000 PT1M run was an overload test, replaced by billing-day), BENCH_RSS_CHECKPOINT (1000; 0 = none), BENCH_CREATE_CONCURRENCY (32),
 * BENCH_COLLECTION_PERIOD (PT10S), BENCH_LEAD_SECONDS (25), BENCH_LIMIT_MINUTES (20), BENCH_WORKER_LOG_LEVEL (warn); the worker
 * also inherits TALLY_WORKER_* and DATABASE_POOL_MAX from the environment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Decimal from 'decimal.js';
import { RequestContext } from '@mikro-orm/core';
import { Client, Connection } from '@temporalio/client';
import { createCatalogService } from '../src/catalog/service';
import { loadConfig } from '../src/config';
import { logger } from '../src/lib/logger';
import { createMeter } from '../src/metering/service';
import { createSubscriptionsService } from '../src/subscriptions/service';
import {
  cpuSec,
  mb,
  rssKb,
  benchWorkerEnv,
  startSampledWorker,
  startWorker,
  sleep,
  startTemporal,
  stopProcess,
} from './lib/processes';
import { fmtInt, progress } from './lib/progress';
import { seedCustomers } from './lib/seed';
import type { Benchmark } from './lib/types';

const N = Number(process.env.BENCH_SUBSCRIPTIONS ?? 1_000);
const CHECKPOINT = Number(process.env.BENCH_RSS_CHECKPOINT ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CREATE_CONCURRENCY ?? 32);
const COLLECTION = process.env.BENCH_COLLECTION_PERIOD ?? 'PT10S';
const LEAD_S = Number(process.env.BENCH_LEAD_SECONDS ?? 25);
const LIMIT_MIN = Number(process.env.BENCH_LIMIT_MINUTES ?? 20);
const HISTORY_SAMPLE = 20;
/**
 * BENCH_SLEEPING_ONLY=1: no billing cycle. The plan is monthly, so the subscriptions really sleep; the
 * benchmark creates CHECKPOINT, then N subscriptions and reports the worker's RSS after each (flat memory
 * with the number of sleeping subscriptions), then stops.
 */
const SLEEPING_ONLY = process.env.BENCH_SLEEPING_ONLY === '1';
const CADENCE = SLEEPING_ONLY ? 'P1M' : 'PT1M';
/**
 * BENCH_KILL_WORKER=1: a worker crash around the measured cycle. A second worker starts once the
 * subscriptions sleep (cached on the first), then the first is killed with SIGKILL BENCH_KILL_AT seconds
 * after the invoices fall due (default -2: just before). Workflow tasks dispatched while the server still
 * counts the dead worker's sticky poller as alive (about 10 s after its last poll) wait on its sticky queue
 * for TALLY_WORKER_STICKY_TIMEOUT before the second worker takes (and replays) them; later ones go to the
 * shared queue at once. Reports when the first and the last invoice came; CPU is the second worker's.
 */
const KILL_WORKER = process.env.BENCH_KILL_WORKER === '1';
const KILL_AT_S = Number(process.env.BENCH_KILL_AT ?? -2);
const MINUTE = 60_000;
/** `file` (a SQLite file in the temp dir, as `npm start` runs it) or `memory` */
const TEMPORAL_DB = process.env.BENCH_TEMPORAL_DB ?? 'file';
/**
 * SQLite pragmas for the dev server (`none` for SQLite's defaults: a rollback journal synced on every
 * commit, which caps the dev server at ~12 invoices/s here)
 */
const TEMPORAL_PRAGMAS = (process.env.BENCH_TEMPORAL_SQLITE_PRAGMAS ?? 'journal_mode=wal,synchronous=normal')
  .split(',')
  .filter((p) => p && p !== 'none');
const TASK_QUEUE = 'tally-bench';

const collectionMs = (() => {
  const m = /^PT(\d+)S$/.exec(COLLECTION);
  if (!m) throw new Error(`BENCH_COLLECTION_PERIOD must look like PT10S, got ${COLLECTION}`);
  return Number(m[1]) * 1000;
})();

/** Events of customer i (1-based): count and tokens, deterministic. */
const eventsOf = (i: number) => 1 + (i % 5);
const tokensOf = (i: number, j: number) => 1 + ((i * 37 + j * 11) % 1000);
function expectedTotal(i: number): string {
  let tokens = 0;
  for (let j = 0; j < eventsOf(i); j++) tokens += tokensOf(i, j);
  return new Decimal(tokens).mul('0.01').toFixed(2);
}

export const billingRun: Benchmark = {
  name: 'billing-run',
  description: SLEEPING_ONLY
    ? `worker memory with ${fmtInt(CHECKPOINT)} and ${fmtInt(N)} sleeping P1M subscriptions`
    : `${fmtInt(N)} PT1M subscriptions ending their period together: real Temporal dev server + worker`,
  async run(db) {
    const { orm, url } = await db.fresh('billing_run', 16);
    const conn = orm.em.getConnection();
    const em = () => orm.em.fork();
    const catalog = createCatalogService({ orm });
    // one EntityManager per service call, as the API has one per request (src/db/README.md)
    const inRequest = <T>(f: () => Promise<T>) => RequestContext.create(orm.em, f);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-temporal-'));
    const cleanup: (() => Promise<void>)[] = [];
    try {
      const temporal = await startTemporal(tmp, { db: TEMPORAL_DB, pragmas: TEMPORAL_PRAGMAS });
      cleanup.push(() => stopProcess(temporal.child));
      progress(
        `Temporal dev server at ${temporal.address} (SQLite ${TEMPORAL_DB}` +
          `${TEMPORAL_PRAGMAS.length ? `, ${TEMPORAL_PRAGMAS.join(', ')}` : ''})`,
      );

      progress(`seeding catalog: meter, feature, ${CADENCE} plan`);
      const meter = await createMeter(em(), {
        key: 'tokens',
        name: 'Tokens',
        aggregation: 'sum',
        event_type: 'llm_call',
        value_property: '$.tokens',
      });
      const feature = await inRequest(() =>
        catalog.createFeature({
          key: 'tokens',
          name: 'Tokens',
          meter: { id: meter.id },
        }),
      );
      const draft = await inRequest(() =>
        catalog.createPlan({
          key: 'per-minute',
          name: 'Per minute',
          currency: 'USD',
          billing_cadence: CADENCE,
          phases: [
            {
              key: 'default',
              name: 'Default',
              rate_cards: [
                {
                  key: 'tokens',
                  name: 'Tokens',
                  feature: { id: feature.id },
                  billing_cadence: CADENCE,
                  price: { type: 'unit', amount: '0.01' },
                },
              ],
            },
          ],
        }),
      );
      const plan = await inRequest(() => catalog.publishPlan(draft.id));

      progress(`seeding ${fmtInt(N)} customers`);
      await seedCustomers(conn, N, 'USD');

      const env = benchWorkerEnv({
        databaseUrl: url,
        temporalAddress: temporal.address,
        taskQueue: TASK_QUEUE,
        collectionPeriod: COLLECTION,
      });
      const { worker, rss } = await startSampledWorker(env, tmp, cleanup, progress);
      progress(`worker pid ${worker.pid} ready, RSS ${mb(rssKb(worker.pid!))} MB`);

      const connection = await Connection.connect({ address: temporal.address });
      cleanup.unshift(() => connection.close());
      const client = new Client({ connection, namespace: 'default' });
      const config = loadConfig(env);
      const subs = createSubscriptionsService({
        orm,
        config,
        temporal: client,
        logger: logger.child({}, { level: 'warn' }),
      });

      const now0 = Date.now();
      const anchorMs = Math.floor(now0 / MINUTE) * MINUTE + 5_000;
      const anchor = new Date(anchorMs).toISOString();
      /** the first grid instant (anchor + n minutes) at or after t */
      const boundaryAfter = (t: number) => anchorMs + Math.ceil((t - anchorMs) / MINUTE) * MINUTE;

      /** mean worker RSS over the 2 s before the next boundary (when every subscription sleeps) */
      const sleepingRss = async (label: string) => {
        const b = boundaryAfter(Date.now() + 3_000);
        progress(`${label}: waiting for the quiet seconds before ${new Date(b).toISOString()}`);
        await sleep(b - 100 - Date.now());
        const kb = rss.mean(b - 2_100, b - 100);
        progress(`${label}: worker RSS ${mb(kb)} MB`);
        return kb;
      };

      const ids: string[] = [];
      let next = 1;
      const create = async (upTo: number) => {
        const t0 = Date.now();
        const from = next;
        let lastReport = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next <= upTo) {
              const i = next++;
              // one EntityManager per call, as the API has one per request (src/db/README.md)
              const s = await RequestContext.create(orm.em, () =>
                subs.create({
                  customer: { key: `customer-${i}` },
                  plan: { key: plan.key },
                  billing_anchor: anchor,
                }),
              );
              ids.push(s.id);
              const done = ids.length;
              if (done === upTo || Date.now() - lastReport > 2_000) {
                lastReport = Date.now();
                const rate = (done - from + 1) / ((Date.now() - t0) / 1000);
                const width = 30;
                const fill = Math.round((done / N) * width);
                progress(
                  `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${fmtInt(done)} / ${fmtInt(N)} subscriptions ` +
                    `(${rate.toFixed(0)}/s, worker RSS ${mb(rssKb(worker.pid!))} MB)`,
                );
              }
            }
          }),
        );
        return (upTo - from + 1) / ((Date.now() - t0) / 1000);
      };

      progress(`creating ${fmtInt(N)} subscriptions (billing anchor ${anchor}, ${CONCURRENCY} at a time)`);
      if (SLEEPING_ONLY) {
        /** mean worker RSS over 5 s once the worker has gone quiet (the new workflows' first tasks done) */
        const quietRss = async (label: string) => {
          for (let i = 0; i < 60; i++) {
            const c0 = cpuSec(worker.pid!);
            await sleep(1_000);
            if (cpuSec(worker.pid!) - c0 < 0.05) break;
          }
          const t0 = Date.now();
          await sleep(5_000);
          const kb = rss.mean(t0, Date.now());
          progress(`${label}: worker RSS ${mb(kb)} MB, dev server RSS ${mb(rssKb(temporal.child.pid!))} MB`);
          return kb;
        };
        const stages = [...new Set([CHECKPOINT, N].filter((n) => n > 0 && n <= N))].sort((a, b) => a - b);
        const figures: string[] = [];
        const kbs: number[] = [];
        for (const n of stages) {
          const rate = await create(n);
          kbs.push(await quietRss(`${fmtInt(n)} sleeping (created at ${rate.toFixed(0)}/s)`));
          figures.push(`${mb(kbs[kbs.length - 1])} MB @ ${fmtInt(n)}`);
        }
        return (
          `billing-run (sleeping only, P1M plan): worker RSS ${figures.join(' / ')} ` +
          `(×${(kbs[kbs.length - 1] / kbs[0]).toFixed(2)} for ×${(N / stages[0]).toFixed(0)} subscriptions)`
        );
      }
      let rssAtCheckpoint: number | undefined;
      if (CHECKPOINT > 0 && CHECKPOINT < N) {
        await create(CHECKPOINT);
        rssAtCheckpoint = await sleepingRss(`${fmtInt(CHECKPOINT)} sleeping`);
      }
      const createRate = await create(N);
      progress(`created ${fmtInt(N)} subscriptions (last stretch ${createRate.toFixed(0)}/s)`);

      const B = boundaryAfter(Date.now() + LEAD_S * 1000);
      const due = B + collectionMs;
      const bIso = new Date(B).toISOString();
      progress(`measured boundary ${bIso}; seeding usage in [B - 2 s, B) and one event at B per customer`);
      await conn.execute(
        `insert into events (source, id, type, subject, time, data, specversion)
         select 'bench', i || '-' || j, 'llm_call', 'customer-' || i,
           ?::timestamptz - interval '2 seconds' + j * interval '100 milliseconds',
           jsonb_build_object('tokens', 1 + ((i * 37 + j * 11) % 1000)), '1.0'
         from generate_series(1, ?) i, generate_series(0, 4) j
         where j < 1 + (i % 5)`,
        [bIso, N],
      );
      await conn.execute(
        `insert into events (source, id, type, subject, time, data, specversion)
         select 'bench', i || '-at-boundary', 'llm_call', 'customer-' || i, ?::timestamptz,
           jsonb_build_object('tokens', 100000), '1.0'
         from generate_series(1, ?) i`,
        [bIso, N],
      );
      await conn.execute('analyze events');

      const rssSleeping = await sleepingRss(`${fmtInt(N)} sleeping`);
      let active = worker; // the worker whose CPU is measured
      if (KILL_WORKER) {
        const second = await startWorker(env, path.join(tmp, 'worker-2.log'));
        cleanup.unshift(() => stopProcess(second));
        progress(`second worker pid ${second.pid} ready; the first dies (SIGKILL) at due ${KILL_AT_S} s`);
        active = second;
      }
      // where each sampled workflow's history stands before the boundary (its latest run and its length)
      const step = Math.max(1, Math.floor(ids.length / HISTORY_SAMPLE));
      const sample = ids.filter((_, i) => i % step === 0).slice(0, HISTORY_SAMPLE);
      const marks = new Map<string, { runId: string; length: number }>();
      for (const id of sample) {
        const handle = client.workflow.getHandle(`subscription-${id}`);
        const [d, h] = await Promise.all([handle.describe(), handle.fetchHistory()]);
        marks.set(id, { runId: d.runId, length: h.events?.length ?? 0 });
      }
      const count = async () => {
        const rows = await conn.execute<{ n: string }[]>(
          // issued (numbered); since issue 11 an invoice is first a draft, issued by its own workflow
          'select count(*)::text as n from invoices where service_period_to = ? and issued_at is not null',
          [bIso],
        );
        return Number(rows[0].n);
      };
      await sleep(B - Date.now());
      const cpu0 = { worker: cpuSec(active.pid!), temporal: cpuSec(temporal.child.pid!) };
      if (KILL_WORKER) {
        await sleep(due + KILL_AT_S * 1000 - Date.now());
        worker.kill('SIGKILL');
        progress('first worker killed');
      }
      await sleep(due - Date.now());
      progress(`collection period over (${new Date(due).toISOString()}); waiting for ${fmtInt(N)} invoices`);
      let issued = 0;
      let lastLog = Date.now();
      let firstAfter: number | undefined;
      for (;;) {
        issued = await count();
        if (issued > 0 && firstAfter === undefined) firstAfter = (Date.now() - due) / 1000;
        if (issued >= N) break;
        if (Date.now() - due > LIMIT_MIN * MINUTE)
          throw new Error(`only ${issued} of ${N} invoices after ${LIMIT_MIN} min`);
        if (Date.now() - lastLog > 5_000) {
          lastLog = Date.now();
          progress(
            `  ${fmtInt(issued)} / ${fmtInt(N)} invoices at +${((Date.now() - due) / 1000).toFixed(1)} s ` +
              `(worker RSS ${mb(rssKb(active.pid!))} MB)`,
          );
        }
        await sleep(200);
      }
      const elapsed = (Date.now() - due) / 1000;
      // every invoice issued in the same window, whatever its period: on a PT1M plan the subscriptions keep
      // cycling, so when the machine cannot keep up, later periods compete with the measured one
      const allRows = await conn.execute<{ n: string }[]>(
        'select count(*)::text as n from invoices where issued_at >= ?',
        [new Date(due).toISOString()],
      );
      const allPerSec = Number(allRows[0].n) / elapsed;
      const peak = rss.peakSince(B);
      progress(
        `CPU used from the boundary to the last invoice: worker ${(cpuSec(active.pid!) - cpu0.worker).toFixed(1)} s, ` +
          `Temporal dev server ${(cpuSec(temporal.child.pid!) - cpu0.temporal).toFixed(1)} s ` +
          `(dev server RSS ${mb(rssKb(temporal.child.pid!))} MB)`,
      );
      progress(`all ${fmtInt(N)} invoices after ${elapsed.toFixed(1)} s; peak worker RSS ${mb(peak)} MB`);

      progress('verifying invoices (count, one per subscription, totals)');
      const rows = await conn.execute<{ key: string; subscription_id: string; total: string }[]>(
        `select c.key, i.subscription_id, i.total::text as total
           from invoices i join customers c on c.id = i.customer_id
          where i.service_period_to = ?`,
        [bIso],
      );
      const perSub = new Set(rows.map((r) => r.subscription_id));
      const wrong = rows.filter(
        (r) => !new Decimal(r.total).eq(expectedTotal(Number(r.key.replace('customer-', '')))),
      );
      const missing = ids.filter((id) => !perSub.has(id));
      if (rows.length !== N || perSub.size !== N || missing.length || wrong.length) {
        throw new Error(
          `verification failed: ${rows.length} invoices, ${perSub.size} subscriptions, ${missing.length} missing, ` +
            `${wrong.length} wrong totals (e.g. ${JSON.stringify(wrong.slice(0, 3))})`,
        );
      }
      progress(`verified: ${fmtInt(N)} invoices, one per subscription, every total = seeded tokens × 0.01`);

      progress(`history of one cycle for ${sample.length} subscriptions`);
      // The cycle's events: what the run current at the mark gained since, plus any run started after it
      // (a workflow continues as new only every few cycles), up to the first timer started after the
      // cycle's markers (the workflow asleep again). A PT1M plan keeps cycling, so a later cycle may have
      // begun by now: it is cut off.
      const counts: number[] = [];
      const types = new Map<string, number>();
      let runsStarted = 0;
      const cycleEnd = (evs: { eventType?: unknown }[]) => {
        let sawMarker = false;
        for (let i = 0; i < evs.length; i++) {
          const t = Number(evs[i].eventType);
          if (t === 25)
            sawMarker = true; // MARKER_RECORDED (local activities, patches)
          else if (t === 17 && sawMarker) return i + 1; // TIMER_STARTED
        }
        return -1;
      };
      for (const id of sample) {
        const wid = `subscription-${id}`;
        const mark = marks.get(id)!;
        for (let attempt = 0; ; attempt++) {
          const runs: { eventType?: unknown }[][] = [];
          let runId: string | undefined;
          for (;;) {
            const h = await client.workflow.getHandle(wid, runId).fetchHistory();
            const all = h.events ?? [];
            const current = runId ?? (await client.workflow.getHandle(wid).describe()).runId;
            if (current === mark.runId) {
              runs.unshift(all.slice(mark.length));
              break;
            }
            runs.unshift(all);
            runId = all[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
            if (!runId) throw new Error(`${wid}: the run current before the boundary is not in its chain`);
          }
          const events = runs.flat();
          const end = cycleEnd(events);
          if (end < 0) {
            if (attempt > (KILL_WORKER ? 8 : 40)) {
              // after a worker kill a sampled cycle may end in ways the cut does not know: skip it
              if (KILL_WORKER) break;
              throw new Error(`${wid}: the measured cycle has not finished`);
            }
            await sleep(250);
            continue;
          }
          const cycle = events.slice(0, end);
          runsStarted += cycle.filter((e) => Number(e.eventType) === 1).length; // WORKFLOW_EXECUTION_STARTED
          counts.push(cycle.length);
          for (const e of cycle) {
            const t = String(Number(e.eventType));
            types.set(t, (types.get(t) ?? 0) + 1);
          }
          break;
        }
      }
      const perCycle = counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length);
      progress(
        `history events of the measured cycle: min ${Math.min(...counts)} max ${Math.max(...counts)}; ` +
          `${runsStarted} of ${counts.length} continued as new during it`,
      );
      progress(
        `  event types (mean per cycle): ${[...types]
          .map(([t, n]) => `${t}=${(n / counts.length).toFixed(1)}`)
          .join(' ')}`,
      );

      const sleepingPart =
        rssAtCheckpoint !== undefined
          ? `worker RSS sleeping ${mb(rssAtCheckpoint)} MB @ ${fmtInt(CHECKPOINT)} / ${mb(rssSleeping)} MB @ ${fmtInt(N)}`
          : `worker RSS sleeping ${mb(rssSleeping)} MB`;
      return (
        `billing-run${KILL_WORKER ? ' (worker killed before the boundary)' : ''}: ` +
        `first invoice ${(firstAfter ?? elapsed).toFixed(1)} s, ` +
        `${fmtInt(N)} invoices in ${elapsed.toFixed(1)} s after the collection period ` +
        `(${(N / elapsed).toFixed(0)} invoices/s; all periods ${allPerSec.toFixed(0)} invoices/s), ` +
        `${sleepingPart} / peak ${mb(peak)} MB, ` +
        `${perCycle.toFixed(1)} history events per subscription-cycle`
      );
    } finally {
      for (const c of cleanup) {
        try {
          await c();
        } catch (err) {
          progress(`cleanup: ${(err as Error).message}`);
        }
      }
      if (!process.env.BENCH_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
      else progress(`kept ${tmp}`);
    }
  },
};
