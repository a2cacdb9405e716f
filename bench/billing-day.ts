/**
 * billing-day: the burst a billing system meets on the 1st — N monthly subscriptions whose periods end at the
 * same calendar instant, each with usage, run through the whole lifecycle with the sandbox app (hand-over →
 * the customer's collection → draft → issued → paid), end to end: the real Temporal dev server (temporal CLI
 * `server start-dev`, SQLite file with WAL, temp data dir, free ports, Tally's search attributes), the real
 * worker (`src/cli/worker.ts` as a child process) and PostgreSQL.
 *
 * The shared instant. A monthly plan (`P1M`) and every subscription anchored on the same instant B, a whole
 * minute a little after the seed finishes (instead of the 1st 00:00 UTC, which is up to a month away): each
 * subscription starts now, so its first period is [start, B) — the partial first month of a subscription
 * anchored on the 1st — and the next one ends a calendar month after B. Nothing else happens meanwhile: no
 * later period competes (the PT1M overload of billing-run), the burst is one billing day. The real server,
 * not the time-skipping test server: that one is a separate in-memory implementation whose throughput says
 * nothing of Temporal's, and it only skips time while every workflow is idle (BENCHMARKS.md, billing-day).
 *
 * Seed: a `sum(tokens)` meter, a feature, the plan with one usage rate card (0.01 USD per token), N customers
 * (SQL), the default billing profile (collection interval BENCH_COLLECTION_PERIOD, no draft period, auto
 * advance, charged automatically, the sandbox app in every role: the worker creates it at start). The N
 * subscriptions are created through the subscriptions service (row + workflow start, the
 * `POST /subscriptions` path), CONCURRENCY at a time. Usage (bulk SQL): customer i has 1 + i mod 5 events in
 * [B − 2 s, B) of 1 + (37 i + 11 j) mod 1000 tokens, and one event of 100,000 tokens at B exactly, which
 * belongs to the next period and must not be billed.
 *
 * Measures, from the end of the collection period D = B + BENCH_COLLECTION_PERIOD (when the invoices become
 * due): the time until the last invoice is issued and until the last is paid (polling PostgreSQL every
 * 200 ms), invoices/s; the CPU (from /proc) of the worker, the Temporal dev server and PostgreSQL (the
 * postmaster with every backend, exited ones included) from B to the last payment, per invoice; when the
 * last hand-over (pending line) was stored; the history events per invoice for a sample of customers: the
 * subscription's billing cycle (from B until it sleeps again), the customer's collection workflow (every
 * run) and the invoice's workflow. Verifies exactly N invoices in the database, one per subscription, all
 * for the period ending at B, all paid, each total = the customer's seeded tokens × 0.01 (computed here,
 * not read back), numbers 1..N without a gap, no pending line left; fails otherwise.
 *
 * Env: BENCH_SUBSCRIPTIONS (10000), BENCH_CREATE_CONCURRENCY (32), BENCH_CREATE_RATE (an estimate of the
 * creation rate per second that places B: 80), BENCH_LEAD_SECONDS (25: at least this long between the
 * last creation and B), BENCH_COLLECTION_PERIOD (PT1M), BENCH_LIMIT_MINUTES (20), BENCH_WORKER_LOG_LEVEL
 * (warn), BENCH_WORKER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`), BENCH_PG_STATEMENTS=1 (the top
 * statements from pg_stat_statements, when the server preloads it), BENCH_KEEP_TMP; the worker inherits
 * TALLY_WORKER_* and DATABASE_POOL_MAX.
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
  parentPid,
  rssKb,
  benchWorkerEnv,
  startSampledWorker,
  sleep,
  startTemporal,
  stopProcess,
  treeCpuSec,
} from './lib/processes';
import { fmtInt, progress } from './lib/progress';
import { seedCustomers } from './lib/seed';
import type { Benchmark } from './lib/types';

const N = Number(process.env.BENCH_SUBSCRIPTIONS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CREATE_CONCURRENCY ?? 32);
const CREATE_RATE = Number(process.env.BENCH_CREATE_RATE ?? 80);
const LEAD_S = Number(process.env.BENCH_LEAD_SECONDS ?? 25);
const COLLECTION = process.env.BENCH_COLLECTION_PERIOD ?? 'PT1M';
const LIMIT_MIN = Number(process.env.BENCH_LIMIT_MINUTES ?? 20);
const PG_STATEMENTS = process.env.BENCH_PG_STATEMENTS === '1';
const HISTORY_SAMPLE = 20;
const MINUTE = 60_000;
const TASK_QUEUE = 'tally-bench';
const PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

const collectionMs = (() => {
  const m = /^PT(?:(\d+)M)?(?:(\d+)S)?$/.exec(COLLECTION);
  if (!m || (!m[1] && !m[2]))
    throw new Error(`BENCH_COLLECTION_PERIOD must look like PT1M or PT30S, got ${COLLECTION}`);
  return (Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000;
})();

/** Events of customer i (1-based): count and tokens, deterministic (the seeding SQL computes the same). */
const eventsOf = (i: number) => 1 + (i % 5);
const tokensOf = (i: number, j: number) => 1 + ((i * 37 + j * 11) % 1000);
function expectedTotal(i: number): string {
  let tokens = 0;
  for (let j = 0; j < eventsOf(i); j++) tokens += tokensOf(i, j);
  return new Decimal(tokens).mul('0.01').toFixed(2);
}

const secs = (ms: number) => (ms / 1000).toFixed(1);

export const billingDay: Benchmark = {
  name: 'billing-day',
  description: `${fmtInt(N)} monthly subscriptions ending their period at one instant, drafted, issued and paid`,
  async run(db) {
    const { orm, url } = await db.fresh('billing_day', 16);
    const conn = orm.em.getConnection();
    const em = () => orm.em.fork();
    const catalog = createCatalogService({ orm });
    const inRequest = <T>(f: () => Promise<T>) => RequestContext.create(orm.em, f);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-temporal-'));
    const cleanup: (() => Promise<void>)[] = [];
    try {
      // the postmaster: the parent of this connection's backend
      const backend = await conn.execute<{ pid: number }[]>('select pg_backend_pid() as pid');
      const postmaster = parentPid(backend[0].pid);
      if (!postmaster)
        throw new Error('PostgreSQL is not on this machine: its CPU cannot be read from /proc');
      let statements = false;
      if (PG_STATEMENTS) {
        try {
          await conn.execute('create extension if not exists pg_stat_statements');
          await conn.execute('select pg_stat_statements_reset()');
          statements = true;
        } catch (e) {
          progress(`pg_stat_statements unavailable (${(e as Error).message.split('\n')[0]})`);
        }
      }

      const temporal = await startTemporal(tmp, { db: 'file', pragmas: PRAGMAS });
      cleanup.push(() => stopProcess(temporal.child));
      progress(`Temporal dev server at ${temporal.address} (SQLite file, ${PRAGMAS.join(', ')})`);

      progress('seeding the catalog: meter, feature, P1M plan');
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

      const connection = await Connection.connect({ address: temporal.address });
      cleanup.unshift(() => connection.close());
      const client = new Client({ connection, namespace: 'default' });
      const subs = createSubscriptionsService({
        orm,
        config: loadConfig(env),
        temporal: client,
        logger: logger.child({}, { level: 'warn' }),
      });

      // B: the shared period end, a whole minute after the expected creation time plus the lead
      const B = Math.ceil((Date.now() + (N / CREATE_RATE + LEAD_S) * 1000) / MINUTE) * MINUTE;
      const bIso = new Date(B).toISOString();
      const due = B + collectionMs;
      progress(
        `creating ${fmtInt(N)} P1M subscriptions anchored on ${bIso} (${CONCURRENCY} at a time); ` +
          `invoices due at ${new Date(due).toISOString()}`,
      );
      const ids: string[] = [];
      let next = 1;
      const t0 = Date.now();
      let lastReport = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next <= N) {
            const i = next++;
            const s = await RequestContext.create(orm.em, () =>
              subs.create({
                customer: { key: `customer-${i}` },
                plan: { key: plan.key },
                billing_anchor: bIso,
              }),
            );
            if (s.current_period?.to !== bIso)
              throw new Error(`subscription ${s.id}: period ends ${s.current_period?.to}, not ${bIso}`);
            ids.push(s.id);
            if (ids.length === N || Date.now() - lastReport > 2_000) {
              lastReport = Date.now();
              progress(
                `  ${fmtInt(ids.length)} / ${fmtInt(N)} subscriptions ` +
                  `(${(ids.length / ((Date.now() - t0) / 1000)).toFixed(0)}/s, worker RSS ${mb(rssKb(worker.pid!))} MB)`,
              );
            }
          }
        }),
      );
      const createRate = N / ((Date.now() - t0) / 1000);
      progress(
        `created ${fmtInt(N)} subscriptions at ${createRate.toFixed(0)}/s; B in ${secs(B - Date.now())} s`,
      );
      if (B - Date.now() < 5_000)
        throw new Error(
          `the subscriptions were created too late for B (${createRate.toFixed(0)}/s): lower BENCH_CREATE_RATE`,
        );

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
      progress('usage seeded');

      // where each sampled subscription's history stands before B
      const step = Math.max(1, Math.floor(ids.length / HISTORY_SAMPLE));
      const sample = ids.filter((_, i) => i % step === 0).slice(0, HISTORY_SAMPLE);
      const marks = new Map<string, { runId: string; length: number }>();
      for (const id of sample) {
        const handle = client.workflow.getHandle(`subscription-${id}`);
        const [d, h] = await Promise.all([handle.describe(), handle.fetchHistory()]);
        marks.set(id, { runId: d.runId, length: h.events?.length ?? 0 });
      }

      const cpu = () => ({
        worker: cpuSec(worker.pid!),
        temporal: cpuSec(temporal.child.pid!),
        pg: treeCpuSec(postmaster),
      });
      await sleep(B - Date.now());
      if (statements) await conn.execute('select pg_stat_statements_reset()');
      const cpuAtB = cpu();
      progress(`period end ${bIso}: waiting for the hand-overs and the invoices`);
      const counts = async () => {
        const rows = await conn.execute<{ lines: string; drafts: string; issued: string; paid: string }[]>(
          `select (select count(*) from billing_pending_lines where invoice_at = ?)::text as lines,
                  count(*)::text as drafts,
                  count(*) filter (where issued_at is not null)::text as issued,
                  count(*) filter (where status = 'paid')::text as paid
             from invoices where service_period_to = ?`,
          [bIso, bIso],
        );
        const r = rows[0];
        return {
          lines: Number(r.lines),
          drafts: Number(r.drafts),
          issued: Number(r.issued),
          paid: Number(r.paid),
        };
      };
      let handedOverAt: number | undefined;
      let issuedAt: number | undefined;
      let cpuAtDue: ReturnType<typeof cpu> | undefined;
      let lastLog = 0;
      for (;;) {
        const c = await counts();
        const t = Date.now();
        if (!cpuAtDue && t >= due) cpuAtDue = cpu();
        if (handedOverAt === undefined && c.lines >= N) handedOverAt = t;
        if (issuedAt === undefined && c.issued >= N) issuedAt = t;
        if (c.paid >= N) break;
        if (t - due > LIMIT_MIN * MINUTE) {
          const now = cpu();
          const per = (k: 'worker' | 'temporal' | 'pg') =>
            (((now[k] - cpuAtB[k]) * 1000) / Math.max(1, c.paid)).toFixed(1);
          throw new Error(
            `stopped ${LIMIT_MIN} min after due: ${c.lines} handed over, ${c.drafts} drafted, ${c.issued} issued, ` +
              `${c.paid} paid of ${N} (${(c.paid / ((t - due) / 1000)).toFixed(1)} paid/s); CPU B → now per paid ` +
              `invoice: worker ${per('worker')} ms, Temporal ${per('temporal')} ms, PostgreSQL ${per('pg')} ms`,
          );
        }
        if (t - lastLog > 5_000) {
          lastLog = t;
          progress(
            `  +${secs(t - due)} s after due: ${fmtInt(c.lines)} handed over, ${fmtInt(c.drafts)} drafted, ` +
              `${fmtInt(c.issued)} issued, ${fmtInt(c.paid)} paid (worker RSS ${mb(rssKb(worker.pid!))} MB)`,
          );
        }
        await sleep(200);
      }
      const paidAt = Date.now();
      const cpuEnd = cpu();
      cpuAtDue ??= cpuEnd;
      const issuedAfter = (issuedAt! - due) / 1000;
      const paidAfter = (paidAt - due) / 1000;
      const perInvoice = (k: 'worker' | 'temporal' | 'pg', from = cpuAtB, to = cpuEnd) =>
        ((to[k] - from[k]) * 1000) / N;
      progress(
        `hand-overs done at B + ${secs(handedOverAt! - B)} s; issued +${issuedAfter.toFixed(1)} s, ` +
          `paid +${paidAfter.toFixed(1)} s after due`,
      );
      progress(
        `CPU B → due: worker ${(cpuAtDue.worker - cpuAtB.worker).toFixed(1)} s, Temporal ` +
          `${(cpuAtDue.temporal - cpuAtB.temporal).toFixed(1)} s, PostgreSQL ${(cpuAtDue.pg - cpuAtB.pg).toFixed(1)} s; ` +
          `due → paid: worker ${(cpuEnd.worker - cpuAtDue.worker).toFixed(1)} s, Temporal ` +
          `${(cpuEnd.temporal - cpuAtDue.temporal).toFixed(1)} s, PostgreSQL ${(cpuEnd.pg - cpuAtDue.pg).toFixed(1)} s`,
      );

      progress('verifying the invoices');
      const rows = await conn.execute<
        {
          key: string;
          subscription_id: string;
          total: string;
          status: string;
          number: string | null;
          to: string;
        }[]
      >(
        `select c.key, i.subscription_id, i.total::text as total, i.status, i.number,
                to_char(i.service_period_to at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as to
           from invoices i join customers c on c.id = i.customer_id`,
      );
      const perSub = new Set(rows.map((r) => r.subscription_id));
      const wrong = rows.filter(
        (r) => !new Decimal(r.total).eq(expectedTotal(Number(r.key.replace('customer-', '')))),
      );
      const notPaid = rows.filter((r) => r.status !== 'paid');
      const otherPeriod = rows.filter((r) => r.to !== bIso);
      const numbers = rows
        .map((r) => Number(/(\d+)$/.exec(r.number ?? '')?.[1] ?? NaN))
        .sort((a, b) => a - b);
      const gapless = numbers.every((n, i) => n === i + 1);
      const missing = ids.filter((id) => !perSub.has(id));
      const left = await conn.execute<{ n: string }[]>(
        'select count(*)::text as n from billing_pending_lines where invoice_id is null and deleted_at is null',
      );
      if (
        rows.length !== N ||
        perSub.size !== N ||
        missing.length ||
        wrong.length ||
        notPaid.length ||
        otherPeriod.length ||
        !gapless ||
        Number(left[0].n) !== 0
      )
        throw new Error(
          `verification failed: ${rows.length} invoices, ${perSub.size} subscriptions, ${missing.length} missing, ` +
            `${wrong.length} wrong totals (e.g. ${JSON.stringify(wrong.slice(0, 3))}), ${notPaid.length} not paid, ` +
            `${otherPeriod.length} for another period, numbers gapless: ${gapless}, ${left[0].n} lines left pending`,
        );
      progress(
        `verified: ${fmtInt(N)} invoices, one per subscription, all paid, totals = seeded tokens × 0.01, numbers 1..${fmtInt(N)}`,
      );

      if (statements) {
        const top = await conn.execute<{ calls: string; ms: string; query: string }[]>(
          `select calls::text, round(total_exec_time)::text as ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) as query
             from pg_stat_statements order by total_exec_time desc limit 20`,
        );
        progress('top statements (pg_stat_statements, B → paid):');
        for (const t of top) progress(`  ${t.ms} ms  ${t.calls} calls  ${t.query}`);
      }

      progress(`history of ${sample.length} sampled invoices`);
      const parts = { subscription: 0, collection: 0, invoice: 0 };
      /** a completed workflow's events over every run (following continue-as-new backwards) */
      const allRuns = async (wid: string) => {
        let n = 0;
        let runId: string | undefined;
        for (;;) {
          const h = await client.workflow.getHandle(wid, runId).fetchHistory();
          const evs = h.events ?? [];
          n += evs.length;
          runId = evs[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
          if (!runId) return n;
        }
      };
      const cycleEnd = (evs: { eventType?: unknown }[]) => {
        let sawMarker = false;
        for (let i = 0; i < evs.length; i++) {
          const t = Number(evs[i].eventType);
          if (t === 25)
            sawMarker = true; // MARKER_RECORDED (the hand-over, the row write)
          else if (t === 17 && sawMarker) return i + 1; // TIMER_STARTED: asleep until the next period end
        }
        return -1;
      };
      for (const id of sample) {
        const wid = `subscription-${id}`;
        const mark = marks.get(id)!;
        const runs: { eventType?: unknown }[][] = [];
        let runId: string | undefined;
        for (;;) {
          const all = (await client.workflow.getHandle(wid, runId).fetchHistory()).events ?? [];
          const current = runId ?? (await client.workflow.getHandle(wid).describe()).runId;
          if (current === mark.runId) {
            runs.unshift(all.slice(mark.length));
            break;
          }
          runs.unshift(all);
          runId = all[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
          if (!runId) throw new Error(`${wid}: the run current before B is not in its chain`);
        }
        const events = runs.flat();
        const end = cycleEnd(events);
        if (end < 0) throw new Error(`${wid}: the billing cycle has not finished`);
        parts.subscription += end;
        const inv = await conn.execute<{ id: string; customer_id: string }[]>(
          'select id, customer_id from invoices where subscription_id = ?',
          [id],
        );
        parts.collection += await allRuns(`collection-${inv[0].customer_id}`);
        parts.invoice += await allRuns(`invoice-${inv[0].id}`);
      }
      const k = sample.length;
      const hist = (parts.subscription + parts.collection + parts.invoice) / k;
      progress(
        `history events per invoice: subscription ${(parts.subscription / k).toFixed(1)} + collection ` +
          `${(parts.collection / k).toFixed(1)} + invoice ${(parts.invoice / k).toFixed(1)}`,
      );

      return (
        `billing-day: ${fmtInt(N)} invoices (P1M, one instant), issued ${issuedAfter.toFixed(1)} s / paid ` +
        `${paidAfter.toFixed(1)} s after the collection period (${COLLECTION}; hand-overs done B + ${secs(handedOverAt! - B)} s), ` +
        `${(N / paidAfter).toFixed(0)} invoices/s; CPU per invoice B → paid: worker ${perInvoice('worker').toFixed(1)} ms, ` +
        `Temporal ${perInvoice('temporal').toFixed(1)} ms, PostgreSQL ${perInvoice('pg').toFixed(1)} ms; ` +
        `${hist.toFixed(1)} history events per invoice (subscription ${(parts.subscription / k).toFixed(1)} + ` +
        `collection ${(parts.collection / k).toFixed(1)} + invoice ${(parts.invoice / k).toFixed(1)}); ` +
        `worker RSS peak ${mb(rss.peakSince(B))} MB; created ${createRate.toFixed(0)}/s`
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
