/**
 * Exact rollups: per meter, subject, UTC hour and dimension values, what every aggregation but
 * `unique_count` needs to merge whole hours exactly (`meter_rollups`, see MeteringRollups); for
 * `unique_count`, per meter, UTC month, subject and dimension values, each distinct value with the hours
 * of the month it was seen in (`meter_rollup_values`, see MeteringUniqueRollups: sets merge by union, the
 * hour bits by `|`). Meter queries read them for the whole, covered hours of a window and raw events for
 * the rest (`query.ts`); a query over a meter without rollups, or with rollups built for other dimensions,
 * reads raw events only.
 *
 * ## The protocol (why the numbers are exact)
 * Per meter (`meter_rollup_state`): `roll_to` and `covered_to`, both on the hour, `covered_to <= roll_to`.
 * - **Ingestion** adds every newly stored event (duplicates are not stored, so never counted twice) with
 *   `time < roll_to` to the rollups in the same statement as its insert (`INGEST_ROLLUP_CTES`): late
 *   events, resends and backdated corrections keep the rollups exact.
 * - **Rolling forward** (`rollForward`, run by the worker every `TALLY_ROLLUP_INTERVAL_S`, and by
 *   `npm run rollups`) moves both bounds to a later hour W in two transactions:
 *   1. with `events` locked in SHARE mode (no insert in flight, new ones wait: milliseconds), set
 *      `roll_to = W` and remember the sequence's last value S. Every event with `seq <= S` is committed
 *      and was stored while `roll_to` was lower (no ingest added it); every later insert starts after this
 *      commit, sees the new `roll_to` and adds itself.
 *   2. add the events of [covered_to, W) with `seq <= S` and set `covered_to = W`, atomically.
 *   Until step 2 commits, queries read raw events past `covered_to`; a crash between the steps is
 *   finished by the next roll (step 2 is one transaction).
 * - **Dimensions changed** (a meter update): the rows no longer match; queries see `dims_key` differ and
 *   read raw events. The next roll resets the meter (under the same lock: `roll_to = covered_to =
 *   -infinity`, `purge`), deletes its rows, then rebuilds from the events. `npm run rollups -- rebuild`
 *   does the same on demand; `npm run rollups -- check` compares every covered row with the events.
 * Every writer of a meter's rows holds its state row (`for update`, or the update in step 1), so rolls of
 * one meter never overlap; ingestion and rolls add in one key order (`order by` the primary key), so they
 * cannot deadlock; addition (and union) commutes, so their order does not matter.
 */
import type { EntityManager } from '@mikro-orm/core';
import { exec, Sql } from '../db/sql';
import { logger } from '../lib/logger';
import type { Aggregation } from './entities';
import { jsonPathToPg } from './jsonpath';
import { inRangeSql, rawValueSql } from './values';
import { METER_COLS, meterView, type MeterDto, type MeterRow } from './views';

/**
 * Aggregations that rollups serve: every one; `unique_count` through its own table (`meter_rollup_values`,
 * sets of values per month with the hours each was seen in), the others through `meter_rollups`.
 */
export const ROLLED_AGGREGATIONS: readonly Aggregation[] = [
  'sum',
  'count',
  'avg',
  'min',
  'max',
  'latest',
  'unique_count',
];
export const isRolled = (a: Aggregation): boolean => ROLLED_AGGREGATIONS.includes(a);

/** Bits per month in `meter_rollup_values.hours`: the hours of 31 days. */
export const MONTH_HOURS = 744;
/** SQL: `bit(744)` of zeros. */
export const NO_HOURS = `repeat('0', ${MONTH_HOURS})::bit(${MONTH_HOURS})`;
/** SQL: the UTC calendar month of a timestamptz expression. */
export const monthOf = (t: string): string => `date_trunc('month', ${t}, 'UTC')`;
/** SQL: the hour index (0-based, bit i of `hours`) of instant `t` in the UTC month starting at `m`. */
export const hourOfMonth = (t: string, m: string): string =>
  `floor((extract(epoch from ${t}) - extract(epoch from ${m})) / 3600)::int`;
/** SQL: a `bit(744)` whose bits [i0, i1) are set (0 <= i0 <= i1 <= 744). */
export const hoursMask = (i0: string, i1: string): string =>
  `(repeat('0', ${i0}) || repeat('1', ${i1} - ${i0}) || repeat('0', ${MONTH_HOURS} - ${i1}))::bit(${MONTH_HOURS})`;

/** The meter's dimensions in the rollups' order (by name), and the key that names them. */
export function rollupDims(meter: Pick<MeterDto, 'dimensions'>): {
  names: string[];
  paths: string[];
  key: string;
} {
  const entries = Object.entries(meter.dimensions ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    names: entries.map(([n]) => n),
    paths: entries.map(([, p]) => jsonPathToPg(p)),
    key: JSON.stringify(entries),
  };
}

/** An event's dimension values, for any meter in `rolled_meters` (its `dim_paths`, in order). */
const ANY_METER_DIMS = `array(select i.data #>> u.p::text[] from unnest(m.dim_paths) with ordinality u(p, o)
  order by u.o)`;

/**
 * The same for one meter whose paths are known (a roll, a check): no subquery per event, which was a
 * large part of a roll's time. The paths are `jsonPathToPg` texts, quoted as SQL literals.
 */
export const dimsOfPaths = (paths: readonly string[]): string =>
  `array[${paths.map((p) => `i.data #>> '${p.replace(/'/g, "''")}'::text[]`).join(', ')}]::text[]`;

/**
 * The rollup upsert, as CTEs over `rolled_src` (columns type, subject, time, data, seq: the events to
 * add) and `rolled_meters` (`meter_rollup_state` rows: the meters to add them to). The value rule is
 * `values.ts`'s; rows are added in primary-key order.
 */
export interface RollupCteOptions {
  /** the dimension expression (default: any meter's, `ANY_METER_DIMS`) */
  dims?: string;
  /**
   * the `unique_count` rows only (a roll of one such meter): the sums' CTE is empty, so that `rolled_x`,
   * read once, is not materialised (1.4 → 0.35 s per day of the 10M set). The converse is not offered: a
   * sum-like meter's roll is slower with `rolled_x` inlined (the value rule then repeats in every aggregate)
   */
  valuesOnly?: boolean;
}

export const rollupRowsCtes = ({ dims = ANY_METER_DIMS, valuesOnly }: RollupCteOptions = {}): string => `
  rolled_x as (
    select m.meter_id, i.subject, date_trunc('hour', i.time) as hour, i.time, i.seq, m.aggregation,
      ${dims} as dims,
      case when m.aggregation <> 'count' then i.data #> m.value_path end as vj,
      case when m.aggregation = 'unique_count' then i.data #>> m.value_path end as vt
    from rolled_src i join rolled_meters m on m.event_type = i.type
      and (m.events_from is null or i.time >= m.events_from)),
  ${
    valuesOnly
      ? 'rolled_rows as (select * from meter_rollups where false)'
      : `rolled_v as (select *, ${rawValueSql('vj')} as vr from rolled_x),
  rolled_n as (select *, case when ${inRangeSql('vr')} then vr end as vn from rolled_v),
  rolled_rows as (
    select meter_id, subject, hour, dims, count(*) as n, sum(vn) as s, min(vn) as mn, max(vn) as mx,
      min(time) as t_min,
      (array_agg(time order by time desc, seq desc) filter (where aggregation = 'latest'))[1] as l_time,
      (array_agg(seq order by time desc, seq desc) filter (where aggregation = 'latest'))[1] as l_seq,
      (array_agg(vn order by time desc, seq desc) filter (where aggregation = 'latest'))[1] as l_val
    from rolled_n where aggregation = 'count' or (aggregation <> 'unique_count' and vn is not null)
    group by meter_id, subject, hour, dims)`
  },
  rolled_uv as (
    select meter_id, month, subject, dims, vt as value,
      bit_or(set_bit(${NO_HOURS}, ${hourOfMonth('time', 'month')}, 1)) as hours,
      min(time) as t_min
    from (select *, ${monthOf('time')} as month from rolled_x
      where aggregation = 'unique_count' and vt is not null) x
    group by meter_id, month, subject, dims, vt)`;
export const ROLLUP_ROWS_CTES = rollupRowsCtes();

/** The rollup rows of ROLLUP_ROWS_CTES added to `meter_rollups`, in primary-key order (no deadlock). */
export const rollupUpsertCtes = (o?: RollupCteOptions): string => `${rollupRowsCtes(o)},
  rolled_up as (
    insert into meter_rollups as r (meter_id, subject, hour, dims, n, s, mn, mx, t_min, l_time, l_seq, l_val)
    select * from rolled_rows order by meter_id, subject, hour, dims
    on conflict (meter_id, subject, hour, dims) do update set
      n = r.n + excluded.n,
      s = r.s + excluded.s,
      mn = least(r.mn, excluded.mn),
      mx = greatest(r.mx, excluded.mx),
      t_min = least(r.t_min, excluded.t_min),
      l_time = case when r.l_time is null or (excluded.l_time, excluded.l_seq) > (r.l_time, r.l_seq)
        then excluded.l_time else r.l_time end,
      l_seq = case when r.l_time is null or (excluded.l_time, excluded.l_seq) > (r.l_time, r.l_seq)
        then excluded.l_seq else r.l_seq end,
      l_val = case when r.l_time is null or (excluded.l_time, excluded.l_seq) > (r.l_time, r.l_seq)
        then excluded.l_val else r.l_val end
    returning 1),
  rolled_uq as (
    insert into meter_rollup_values as r (meter_id, month, subject, dims, value, hours, t_min)
    select * from rolled_uv order by meter_id, month, subject, dims, value
    on conflict (meter_id, month, subject, dims, value) do update set
      hours = r.hours | excluded.hours,
      t_min = least(r.t_min, excluded.t_min)
    returning 1)`;
export const ROLLUP_UPSERT_CTES = rollupUpsertCtes();

/**
 * What the ingest statement adds after its insert CTE `ins` (returning type, subject, time, data, seq):
 * the stored events older than their meters' `roll_to`.
 */
export const INGEST_ROLLUP_CTES = `
  rolled_meters as (
    select * from meter_rollup_state where event_type in (select distinct type from ins)
      and roll_to > '-infinity'),
  rolled_src as (
    select i.type, i.subject, i.time, i.data, i.seq from ins i
    where i.time < (select max(m.roll_to) from rolled_meters m where m.event_type = i.type)),
  ${ROLLUP_UPSERT_CTES}`;

export interface RollupState {
  meter_id: string;
  dims_key: string;
  roll_to: string;
  covered_to: string;
  pending_seq: string | null;
  purge: boolean;
}

const STATE_COLS = `meter_id, dims_key, roll_to::text as roll_to, covered_to::text as covered_to,
  pending_seq::text as pending_seq, purge`;

export interface RollOptions {
  /** roll up to this instant (floored to the hour); default: now minus `lagMs` */
  until?: Date;
  /** how far behind now rolling stops (late events are added by ingestion anyway); default 5 minutes */
  lagMs?: number;
  /** hours of events per transaction (step 2); default 24 */
  chunkHours?: number;
  /** called after each step */
  onProgress?: (p: { meter: string; coveredTo: string }) => void;
}

const HOUR = 3_600_000;
const floorHour = (d: Date) => new Date(Math.floor(d.getTime() / HOUR) * HOUR);

/** Creates the meter's state row (nothing covered yet) when missing. */
async function ensureState(em: EntityManager, meter: MeterDto): Promise<void> {
  const dims = rollupDims(meter);
  await exec(
    em,
    new Sql().add(
      `insert into meter_rollup_state (meter_id, event_type, aggregation, value_path, dim_paths, dims_key,
         events_from)
       values (?, ?, ?, ?::text[], array(select jsonb_array_elements_text(?::jsonb)), ?, ?::timestamptz)
       on conflict (meter_id) do nothing`,
      meter.id,
      meter.event_type,
      meter.aggregation,
      meter.value_property ? jsonPathToPg(meter.value_property) : null,
      JSON.stringify(dims.paths),
      dims.key,
      meter.events_from ?? null,
    ),
  );
}

/** `lock table events in share mode`: waits for inserts in flight, holds new ones until commit. */
async function lockEvents(tx: EntityManager): Promise<void> {
  await exec(tx, new Sql().add(`set local lock_timeout = '10s'`));
  await exec(tx, new Sql().add('lock table events in share mode'));
}

/**
 * Resets a meter's rollups (rebuilt by the next rolls): nothing covered, nothing added at ingestion, rows
 * purged, dimensions taken from `meter`.
 */
export async function resetRollups(em: EntityManager, meter: MeterDto): Promise<void> {
  await ensureState(em, meter);
  const dims = rollupDims(meter);
  await em.transactional(async (tx) => {
    await lockEvents(tx);
    await exec(
      tx,
      new Sql().add(
        `update meter_rollup_state set roll_to = '-infinity', covered_to = '-infinity', pending_seq = null,
           purge = true, dim_paths = array(select jsonb_array_elements_text(?::jsonb)), dims_key = ?, updated_at = now() where meter_id = ?`,
        JSON.stringify(dims.paths),
        dims.key,
        meter.id,
      ),
    );
  });
}

/**
 * Moves the meter's rollups forward to `until` (default: the last whole hour `lagMs` ago), a chunk of
 * hours per transaction; resumes whatever a crash left. Returns the hour covered to.
 */
export async function rollForward(
  em: EntityManager,
  meter: MeterDto,
  opts: RollOptions = {},
): Promise<string> {
  if (!isRolled(meter.aggregation)) return '-infinity';
  await ensureState(em, meter);
  const horizon = floorHour(opts.until ?? new Date(Date.now() - (opts.lagMs ?? 5 * 60_000)));
  const baseChunk = (opts.chunkHours ?? 24) * HOUR;
  // doubled after each step that found no event (a meter's quiet months), back to the base after one that did
  let chunk = baseChunk;
  const dims = rollupDims(meter);
  for (;;) {
    const [st] = await exec<RollupState>(
      em,
      new Sql().add(`select ${STATE_COLS} from meter_rollup_state where meter_id = ?`, meter.id),
    );
    if (st.dims_key !== dims.key) {
      logger.info({ meter: meter.key }, 'meter dimensions changed: rebuilding its rollups');
      await resetRollups(em, meter);
      continue;
    }
    if (st.purge) {
      await em.transactional(async (tx) => {
        const [s] = await exec<RollupState>(
          tx,
          new Sql().add(
            `select ${STATE_COLS} from meter_rollup_state where meter_id = ? for update`,
            meter.id,
          ),
        );
        if (!s.purge) return;
        await exec(tx, new Sql().add('delete from meter_rollups where meter_id = ?', meter.id));
        await exec(tx, new Sql().add('delete from meter_rollup_values where meter_id = ?', meter.id));
        await exec(
          tx,
          new Sql().add('update meter_rollup_state set purge = false where meter_id = ?', meter.id),
        );
      });
      continue;
    }
    if (st.pending_seq !== null) {
      const added = await addPending(em, meter.id);
      chunk = added ? baseChunk : Math.min(chunk * 2, 366 * 24 * HOUR);
      opts.onProgress?.({ meter: meter.key, coveredTo: st.roll_to });
      continue;
    }
    const rollTo = st.roll_to === '-infinity' ? undefined : new Date(st.roll_to);
    if (rollTo && rollTo >= horizon) return st.covered_to;
    let start = rollTo;
    if (!start) {
      const [first] = await exec<{ t: string | null }>(
        em,
        new Sql().add(
          "select min(time)::text as t from events where type = ? and time >= coalesce(?::timestamptz, '-infinity')",
          meter.event_type,
          meter.events_from ?? null,
        ),
      );
      start = first.t ? floorHour(new Date(first.t)) : horizon;
    }
    const target = new Date(Math.min(horizon.getTime(), start.getTime() + chunk));
    await em.transactional(async (tx) => {
      await lockEvents(tx);
      await exec(
        tx,
        new Sql().add(
          `update meter_rollup_state set roll_to = ?::timestamptz, updated_at = now(),
             pending_seq = coalesce(pg_sequence_last_value(pg_get_serial_sequence('events', 'seq')::regclass), 0)
           where meter_id = ? and roll_to = ?::timestamptz and pending_seq is null and not purge`,
          target.toISOString(),
          meter.id,
          st.roll_to,
        ),
      );
    });
  }
}

/** Step 2: adds the events of [covered_to, roll_to) stored up to `pending_seq`, then covers to roll_to. */
async function addPending(em: EntityManager, meterId: string): Promise<number> {
  return em.transactional(async (tx) => {
    const [s] = await exec<RollupState & { dim_paths: string[]; aggregation: string }>(
      tx,
      new Sql().add(
        `select ${STATE_COLS}, dim_paths, aggregation from meter_rollup_state where meter_id = ? for update`,
        meterId,
      ),
    );
    if (s.pending_seq === null || s.purge) return 0;
    const [{ n }] = await exec<{ n: string }>(
      tx,
      new Sql().add(
        `with rolled_meters as (select * from meter_rollup_state where meter_id = ?),
         rolled_src as (
           select e.type, e.subject, e.time, e.data, e.seq from events e
           where e.type = (select event_type from rolled_meters) and e.time >= ?::timestamptz
             and e.time < ?::timestamptz and e.seq <= ?::bigint),
         ${rollupUpsertCtes({
           dims: dimsOfPaths(s.dim_paths),
           // a sum-like meter's roll keeps the (empty) values CTE: rolled_x stays materialised and the
           // value rule is computed once per event
           valuesOnly: s.aggregation === 'unique_count',
         })}
         select ((select count(*) from rolled_up) + (select count(*) from rolled_uq))::text as n`,
        meterId,
        s.covered_to,
        s.roll_to,
        s.pending_seq,
      ),
    );
    await exec(
      tx,
      new Sql().add(
        `update meter_rollup_state set covered_to = roll_to, pending_seq = null, updated_at = now()
         where meter_id = ?`,
        meterId,
      ),
    );
    return Number(n);
  });
}

/** The state of a meter's rollups, or undefined when it has none. */
export async function rollupState(em: EntityManager, meterId: string): Promise<RollupState | undefined> {
  const [st] = await exec<RollupState>(
    em,
    new Sql().add(`select ${STATE_COLS} from meter_rollup_state where meter_id = ?`, meterId),
  );
  return st;
}

/**
 * Compares the meter's covered rollup rows with the events they stand for: returns how many rows differ
 * (missing, extra or with another value). Reads every covered event of the meter. A `unique_count` row is
 * compared on the hours before `covered_to` (later bits may already hold late events of the pending hours).
 */
export async function checkRollups(
  em: EntityManager,
  meterId: string,
): Promise<{ rows: number; differing: number }> {
  const src = `with rolled_meters as (select * from meter_rollup_state where meter_id = ?),
       rolled_src as (
         select e.type, e.subject, e.time, e.data, e.seq from events e
         where e.type = (select event_type from rolled_meters)
           and e.time < (select covered_to from rolled_meters)),
       ${ROLLUP_ROWS_CTES}`;
  // the events' rows computed with the generic dimension expression: independent of the roll's
  const [st] = await exec<{ aggregation: string }>(
    em,
    new Sql().add('select aggregation from meter_rollup_state where meter_id = ?', meterId),
  );
  if (!st) return { rows: 0, differing: 0 };
  if (st.aggregation !== 'unique_count') {
    const [r] = await exec<{ rows: string; differing: string }>(
      em,
      new Sql().add(
        `${src},
       have as (
         select subject, hour, dims, n, s, mn, mx, t_min, l_time, l_seq, l_val from meter_rollups
         where meter_id = ? and hour < (select covered_to from rolled_meters))
       select (select count(*) from have)::text as rows, count(*)::text as differing
       from rolled_rows want full join have using (subject, hour, dims)
       where want.n is distinct from have.n or want.s is distinct from have.s or want.mn is distinct from have.mn
         or want.mx is distinct from have.mx or want.t_min is distinct from have.t_min
         or (want.l_time, want.l_seq, want.l_val) is distinct from (have.l_time, have.l_seq, have.l_val)`,
        meterId,
        meterId,
      ),
    );
    return { rows: Number(r.rows), differing: Number(r.differing) };
  }
  // the bits of the hours before covered_to, per month: hour i of the month is bit i
  const [u] = await exec<{ rows: string; differing: string }>(
    em,
    new Sql().add(
      `${src},
       have0 as (
         select v.month, v.subject, v.dims, v.value, v.t_min,
           v.hours & ${hoursMask('0', 'k.k')} as hours
         from meter_rollup_values v, rolled_meters c,
           lateral (select least(${MONTH_HOURS}, greatest(0, ${hourOfMonth(
             `least(greatest(c.covered_to, v.month), v.month + interval '32 days')`,
             'v.month',
           )})) as k) k
         where v.meter_id = ? and v.month < c.covered_to),
       have as (select * from have0 where hours <> ${NO_HOURS})
       select (select count(*) from have)::text as rows, count(*)::text as differing
       from rolled_uv want full join have using (month, subject, dims, value)
       where want.hours is distinct from have.hours or want.t_min is distinct from have.t_min`,
      meterId,
      meterId,
    ),
  );
  return { rows: Number(u.rows), differing: Number(u.differing) };
}

/** Every meter rollups serve (deleted ones too: billing still reads them by id). */
export async function rolledMeters(em: EntityManager, idOrKey?: string): Promise<MeterDto[]> {
  const q = new Sql().add(`select ${METER_COLS} from meters where aggregation in `).list(ROLLED_AGGREGATIONS);
  if (idOrKey !== undefined)
    q.add(' and (id = ? or (key = ? and deleted_at is null))', idOrKey.toUpperCase(), idOrKey);
  q.add(' order by created_at, id');
  return (await exec<MeterRow>(em, q)).map(meterView);
}

/**
 * The roller the worker runs: every `intervalMs`, rolls every meter forward (one at a time, one roll at a
 * time per process; several processes are safe, see the protocol above). A failure is logged and retried
 * at the next tick.
 */
export function startRollups(
  deps: { orm: { em: EntityManager }; logger: typeof logger },
  opts: { intervalMs: number; lagMs?: number },
): { tick(): Promise<void>; stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    running ??= (async () => {
      try {
        for (const m of await rolledMeters(deps.orm.em.fork())) {
          if (stopped) break;
          await rollForward(deps.orm.em.fork(), m, { lagMs: opts.lagMs });
        }
      } catch (err) {
        deps.logger.warn({ err }, 'rolling meter rollups forward failed; the next tick retries');
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void tick(), opts.intervalMs);
  timer.unref();
  void tick();
  return {
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
