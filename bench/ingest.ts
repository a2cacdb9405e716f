/**
 * ingest: the real HTTP API (createApp on a listening port, in-process) against the bench database.
 * CLIENTS concurrent keep-alive HTTP clients (Node fetch) POST `application/cloudevents-batch+json`
 * batches of 1,000 events, 10% of each batch being resends of ids sent earlier (in an earlier batch, or
 * in the same batch for the first one), until EVENTS distinct events are stored. Baseline from the same
 * run: `COPY` of the same rows (same columns) from a server-side file into an unindexed table of the same
 * PostgreSQL. Afterwards checks that the stored events are exactly the distinct ones sent (count, id
 * range, checksum of `tokens`); a mismatch fails the benchmark.
 */
import { chmodSync, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Connection } from '@mikro-orm/core';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createApp } from '../src/api/app';
import { loadConfig } from '../src/config';
import { logger } from '../src/lib/logger';
import { closeIngestPools } from '../src/metering/ingest';
import { createMeter, rollForward, checkRollups, type MeterDto } from '../src/metering/service';
import { fmtInt, progress } from './lib/progress';
import { rng } from './lib/stats';
import type { Benchmark } from './lib/types';

const EVENTS = Number(process.env.BENCH_INGEST_EVENTS ?? 2_000_000);
/** experiments only: comma-separated indexes of `events` to drop before the run (e.g. to price each one) */
const DROP_INDEXES = (process.env.BENCH_INGEST_DROP_INDEXES ?? '').split(',').filter(Boolean);
const CLIENTS = Number(process.env.BENCH_INGEST_CLIENTS ?? 6);
/**
 * `1`: three meters on the events (sum, count, unique_count), whose rollups every ingested event is added
 * to by the ingest statement (the worst case: a backfill of late events). `live`: the same meters rolled
 * up to the first event, and a roller rolling them forward while the events arrive (live traffic: each
 * event is newer than `roll_to` when it arrives, the roller adds it a little later, as the worker's does).
 */
const ROLLUPS_MODE = process.env.BENCH_INGEST_ROLLUPS ?? '';
const ROLLUPS = ROLLUPS_MODE === '1' || ROLLUPS_MODE === 'live';
const LIVE = ROLLUPS_MODE === 'live';
const NEW_PER_BATCH = 900; // + 100 resends = 10% of each batch
const SOURCE = 'bench-ingest';
const BASE_MS = Date.parse('2026-10-01T00:00:00Z');

const tokensOf = (n: number) => 1 + (n % 2000);

/** Event n (deterministic: a resend is byte-for-byte the same event). */
function event(n: number) {
  return {
    specversion: '1.0',
    id: `ev-${n}`,
    source: SOURCE,
    type: 'llm_call',
    subject: `customer-${1 + ((n * 7919) % 1000)}`,
    time: new Date(BASE_MS + n * 1000).toISOString(),
    data: {
      user_id: `user-${(n * 31) % 50_000}`,
      tokens: tokensOf(n),
      model: n % 3 === 0 ? 'large' : 'small',
    },
  };
}

/** The request bodies, built before timing (the clients share the CPU with the server). */
function buildBatches(): { bodies: Buffer[]; posted: number } {
  const rand = rng(5);
  const out: Buffer[] = [];
  let posted = 0;
  for (let first = 0, b = 0; first < EVENTS; first += NEW_PER_BATCH, b++) {
    const last = Math.min(EVENTS, first + NEW_PER_BATCH);
    const ids: number[] = [];
    for (let n = first; n < last; n++) ids.push(n);
    const resends = Math.round(ids.length / 9);
    for (let i = 0; i < resends; i++) {
      // an id of an earlier batch (so no two in-flight batches wait on each other), or of this one
      const n = first > 0 ? Math.floor(rand() * first) : first + Math.floor(rand() * (last - first));
      ids.splice(Math.floor(rand() * (ids.length + 1)), 0, n);
    }
    out.push(Buffer.from(JSON.stringify(ids.map(event))));
    posted += ids.length;
  }
  return { bodies: out, posted };
}

/**
 * CPU seconds (user + system) used so far by the PostgreSQL server's processes (backends and background
 * workers, from /proc: the server is local). With the 2 cores shared, CPU per event is the figure that
 * other load on the machine does not move; wall-clock rates are still what the ratio uses.
 */
async function serverCpuSeconds(conn: Connection): Promise<number> {
  const rows = await conn.execute<{ pid: number }[]>('select pid from pg_stat_activity');
  let ticks = 0;
  for (const { pid } of rows) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // exited meanwhile
    }
  }
  return ticks / 100; // USER_HZ
}

const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

async function writeCopyFile(file: string, ingestedAt: string): Promise<void> {
  const out = createWriteStream(file);
  const nul = '\\N';
  let buf = '';
  for (let n = 0; n < EVENTS; n++) {
    const e = event(n);
    buf +=
      [
        e.source,
        e.id,
        e.type,
        e.subject,
        e.time,
        JSON.stringify(e.data),
        e.specversion,
        nul,
        nul,
        ingestedAt,
      ].join('\t') + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

export const ingest: Benchmark = {
  name: 'ingest',
  description: `HTTP batch ingestion (${CLIENTS} clients, 1,000-event batches, 10% resends) vs COPY`,
  async run(db) {
    const { orm, url } = await db.fresh('ingest', CLIENTS + 2);
    const conn = orm.em.getConnection();
    const cols =
      'source, id, type, subject, time, data, specversion, datacontenttype, dataschema, ingested_at';

    // --- baseline: COPY the same rows into an unindexed table with the same columns
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-copy-'));
    const rolled: MeterDto[] = [];
    chmodSync(tmp, 0o755);
    const file = path.join(tmp, 'events.tsv');
    let copyRate: number;
    try {
      progress(`writing ${fmtInt(EVENTS)} rows for the COPY baseline`);
      await writeCopyFile(file, new Date().toISOString());
      chmodSync(file, 0o644);
      await conn.execute(`
        create table events_copy_baseline (
          source text not null, id text not null, type text not null, subject text not null,
          time timestamptz not null, data jsonb, specversion text not null default '1.0',
          datacontenttype text, dataschema text, ingested_at timestamptz not null default now(),
          stored_at timestamptz not null default now(), seq bigint generated always as identity)`);
      await conn.execute('checkpoint');
      progress('COPY into the unindexed table');
      const cpu0 = await serverCpuSeconds(conn);
      const t = process.hrtime.bigint();
      await conn.execute(`copy events_copy_baseline (${cols}) from '${file}'`);
      const s = Number(process.hrtime.bigint() - t) / 1e9;
      const cpu = (await serverCpuSeconds(conn)) - cpu0;
      copyRate = EVENTS / s;
      progress(
        `  COPY: ${fmtInt(EVENTS)} rows in ${s.toFixed(1)} s = ${fmtInt(Math.round(copyRate))} rows/s ` +
          `(PostgreSQL CPU ${((cpu * 1e6) / EVENTS).toFixed(1)} s per million rows)`,
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    await conn.execute('drop table events_copy_baseline');
    // --- second baseline: COPY into a table with the same columns and indexes as `events`
    let copyIndexedRate: number;
    const tmp2 = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-copy-'));
    chmodSync(tmp2, 0o755);
    const file2 = path.join(tmp2, 'events.tsv');
    try {
      await writeCopyFile(file2, new Date().toISOString());
      chmodSync(file2, 0o644);
      await conn.execute('create table events_copy_indexed (like events including all)');
      await conn.execute('checkpoint');
      progress('COPY into a table with the indexes of events');
      const t = process.hrtime.bigint();
      await conn.execute(`copy events_copy_indexed (${cols}) from '${file2}'`);
      const s2 = Number(process.hrtime.bigint() - t) / 1e9;
      copyIndexedRate = EVENTS / s2;
      progress(
        `  COPY (indexed): ${fmtInt(EVENTS)} rows in ${s2.toFixed(1)} s = ${fmtInt(Math.round(copyIndexedRate))} rows/s`,
      );
    } finally {
      rmSync(tmp2, { recursive: true, force: true });
    }
    await conn.execute('drop table events_copy_indexed');
    if (ROLLUPS) {
      // the worst case for rollups: every event is added at ingestion (roll_to = infinity), as a backfill of
      // late events would be; live traffic (newer than roll_to) adds nothing
      progress(
        `rollups: sum (tokens by model), count and unique_count (users) meters, ${
          LIVE ? 'rolled forward while the events arrive' : 'every event added at ingestion'
        }`,
      );
      const em = orm.em.fork();
      for (const m of [
        { key: 'tokens', aggregation: 'sum' as const, value_property: '$.tokens' },
        { key: 'calls', aggregation: 'count' as const },
        { key: 'users', aggregation: 'unique_count' as const, value_property: '$.user_id' },
      ]) {
        const meter = await createMeter(em, {
          ...m,
          name: m.key,
          event_type: 'llm_call',
          dimensions: { model: '$.model' },
        });
        await rollForward(em, meter, { until: new Date(BASE_MS) });
        rolled.push(meter);
      }
      if (!LIVE)
        await conn.execute(`update meter_rollup_state set roll_to = 'infinity', covered_to = 'infinity'`);
    }
    for (const idx of DROP_INDEXES) {
      progress(`experiment: dropping index ${idx}`);
      await conn.execute(`drop index ${idx.replace(/[^a-z0-9_]/gi, '')}`);
    }

    // --- the API
    progress('building request bodies');
    const { bodies: batches, posted } = buildBatches();
    const token = 'bench-token-0123456789abcdefghijklmn';
    const config = loadConfig({
      DATABASE_URL: url,
      DATABASE_POOL_MAX: String(CLIENTS + 2),
      TALLY_API_TOKENS: token,
      LOG_LEVEL: 'silent',
    });
    const app = createApp({ config, orm, logger });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/openmeter/events`;
    await conn.execute('checkpoint');

    progress(`POSTing ${fmtInt(batches.length)} batches with ${CLIENTS} clients`);
    let next = 0;
    let done = 0;
    let s = NaN;
    let serverCpu = NaN;
    let nodeCpu = NaN;
    const serverCpu0 = await serverCpuSeconds(conn);
    const nodeCpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let lastReport = Date.now();
    const client = async () => {
      for (let b = next++; b < batches.length; b = next++) {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/cloudevents-batch+json',
          },
          body: batches[b],
        });
        if (res.status !== 202) throw new Error(`batch ${b}: HTTP ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
        done++;
        if (Date.now() - lastReport > 5000) {
          lastReport = Date.now();
          const s = Number(process.hrtime.bigint() - t0) / 1e9;
          const stored = Math.min(EVENTS, done * NEW_PER_BATCH);
          progress(
            `  ${fmtInt(done)} / ${fmtInt(batches.length)} batches, ~${fmtInt(stored)} events, ` +
              `${fmtInt(Math.round(stored / s))} events/s`,
          );
        }
      }
    };
    // live: the roller, as the worker runs it, up to 5 minutes (of event time) behind the last answered batch
    let ingesting = true;
    let rolls = 0;
    const roller = async () => {
      while (ingesting) {
        const until = new Date(BASE_MS + (done * NEW_PER_BATCH - 300) * 1000);
        for (const m of rolled) await rollForward(orm.em.fork(), m, { until });
        rolls++;
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const rolling = LIVE ? roller() : Promise.resolve();
    try {
      await Promise.all(Array.from({ length: CLIENTS }, client));
      ingesting = false;
      await rolling;
      s = Number(process.hrtime.bigint() - t0) / 1e9;
      // before the pools close: a closed backend's CPU time is gone from /proc
      serverCpu = (await serverCpuSeconds(conn)) - serverCpu0;
      nodeCpu = cpuSeconds(process.cpuUsage(nodeCpu0));
    } finally {
      ingesting = false;
      await new Promise<void>((r) => server.close(() => r()));
      await closeIngestPools();
    }
    const perMillion = (x: number) => ((x * 1e6) / EVENTS).toFixed(1);
    const rate = EVENTS / s;
    progress(
      `  API: ${fmtInt(EVENTS)} distinct events in ${s.toFixed(1)} s = ${fmtInt(Math.round(rate))} events/s ` +
        `(CPU s per million events: PostgreSQL ${perMillion(serverCpu)}, Node ${perMillion(nodeCpu)} incl. the HTTP clients)`,
    );

    // --- exactness: every distinct event stored once, nothing else
    progress('verifying the stored events');
    const [v] = await conn.execute<{ n: string; in_range: string; tokens: string }[]>(
      `select count(*)::text as n,
         count(*) filter (where id ~ '^ev-[0-9]+$' and substr(id, 4)::bigint < ?)::text as in_range,
         coalesce(sum((data->>'tokens')::numeric), 0)::text as tokens
       from events where source = ?`,
      [EVENTS, SOURCE],
    );
    let expectedTokens = 0;
    for (let n = 0; n < EVENTS; n++) expectedTokens += tokensOf(n);
    if (Number(v.n) !== EVENTS || Number(v.in_range) !== EVENTS || v.tokens !== String(expectedTokens))
      throw new Error(
        `ingest is not exact: stored ${v.n} events (${v.in_range} with expected ids), tokens ${v.tokens}; ` +
          `expected ${EVENTS} events, tokens ${expectedTokens}`,
      );
    progress(`  exact: ${fmtInt(EVENTS)} events, tokens checksum ${expectedTokens}`);
    let catchUp = '';
    if (LIVE) {
      // what the roller still had to add (the last 5 minutes of event time and the last tick)
      const c0 = Date.now();
      for (const m of rolled)
        await rollForward(orm.em.fork(), m, { until: new Date(BASE_MS + EVENTS * 1000 + 3_600_000) });
      catchUp = `, ${rolls} rolls during ingestion, catch-up ${((Date.now() - c0) / 1000).toFixed(1)} s`;
      progress(`  rollups: ${rolls} rolls during ingestion${catchUp}`);
    }
    if (ROLLUPS) {
      if (!LIVE)
        await conn.execute(`update meter_rollup_state set covered_to = '2100-01-01', roll_to = '2100-01-01'`);
      const [r] = await conn.execute<{ s: string }[]>(
        `select coalesce(sum(s), 0)::text as s from meter_rollups r join meters m on m.id = r.meter_id where m.key = 'tokens'`,
      );
      for (const m of await conn.execute<{ id: string; key: string }[]>('select id, key from meters')) {
        const c = await checkRollups(orm.em.fork(), m.id);
        if (c.differing) throw new Error(`rollups of ${m.key}: ${c.differing} rows differ from the events`);
      }
      if (r.s !== String(expectedTokens)) throw new Error(`rollup tokens ${r.s} != ${expectedTokens}`);
      progress(`  rollups exact: tokens ${r.s}, check 0 differing`);
    }

    return (
      `ingest: ${fmtInt(Math.round(rate))} events/s, copy baseline ${fmtInt(Math.round(copyRate))} rows/s, ` +
      `ratio ${(rate / copyRate).toFixed(2)}, copy into an indexed table ${fmtInt(Math.round(copyIndexedRate))} rows/s, ` +
      `ratio ${(rate / copyIndexedRate).toFixed(2)}${ROLLUPS ? (LIVE ? `, rollups rolled live${catchUp}` : ', rollups added at ingestion') : ''} (${fmtInt(EVENTS)} distinct events, ${fmtInt(posted)} ` +
      `posted in ${fmtInt(batches.length)} batches by ${CLIENTS} clients` +
      `${DROP_INDEXES.length ? `; without ${DROP_INDEXES.join(', ')}` : ''})`
    );
  },
};
