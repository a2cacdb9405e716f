/**
 * access-load: `POST /v3/openmeter/entitlement-access/query` as an API gateway calls it, over real HTTP.
 *
 * Seed: 1,000 customers (each with one usage-attribution subject and one active subscription row on a plan
 * with a metered `count` entitlement, hard limit, a boolean and a static one), 1,000,000 `api_call` events
 * over the last 40 days drawn from a Zipf (s = 1) so customer-1 sends ~10 % of them (`seedZipfEvents`); the
 * usage period started 10 days ago.
 *
 * The API runs as a child process (bench/lib/api-server.ts: `createApp` from `loadConfig()`, as
 * `npm run api` serves it, on a free port). Measured, in this order:
 *  1. one request at a time (fetch, after a warm-up): access for the largest customer, and for a typical one;
 *  2. per connection level (BENCH_LOAD_CONNECTIONS, default 10, 50, 200), each for BENCH_LOAD_DURATION_S
 *     (default 10 s) with autocannon: a baseline, `GET /customers/{id}` (bearer check + one indexed row),
 *     then the access query for one customer per request, drawn from the same Zipf as the events (a
 *     gateway asks for a customer as often as that customer calls the API: ~10 % of them are customer-1).
 *     While the access load runs, a probe asks `GET /customers/{id}` every 100 ms on its own connection.
 * Printed per level: requests/s, p50/p99, non-2xx and errors (must be 0), CPU ms per request of the API
 * process and of PostgreSQL (the postmaster and all its backends, from /proc), and the probe's p50/p99/max.
 * Both measured twice in one run: `raw` (no rollups: the events are read), then, after the meter's rollups
 * are built (`rollForward`, as the worker's roller does; `checkRollups` 0 differing), `rolled`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { cpuSec, parentPid, sleep, stopProcess, treeCpuSec } from './lib/processes';
import { fmtInt, progress } from './lib/progress';
import { seedCustomersWithSubscriptions, seedZipfEvents } from './lib/seed';
import { fmtLatency, measure, rng, summarize, type Latency } from './lib/stats';
import type { Benchmark } from './lib/types';
import { seedAccessCatalog } from './lib/access-catalog';
import { checkRollups, rollForward } from '../src/metering/service';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);
const DURATION_S = Number(process.env.BENCH_LOAD_DURATION_S ?? 10);
const LEVELS = (process.env.BENCH_LOAD_CONNECTIONS ?? '10,50,200').split(',').map(Number);
/** the metered entitlement's hard limit (per month): the largest customer is over it, typical ones are not */
const LIMIT = 5000;
const DAY = 24 * 3600 * 1000;
const ROOT = path.resolve(__dirname, '..');
const ACCESS = '/v3/openmeter/entitlement-access/query';

const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));

/** bench/lib/api-server.ts as a child process (BENCH_API_NODE_ARGS: extra node flags, e.g. --cpu-prof) */
function startApi(env: NodeJS.ProcessEnv, logFile: string): Promise<{ child: ChildProcess; port: number }> {
  const out = openSync(logFile, 'a');
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'bench/lib/api-server.ts')],
    { cwd: ROOT, env, stdio: ['ignore', out, out, 'ipc'] },
  );
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`API exited (${code}); see ${logFile}`));
    child.once('exit', onExit);
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === 'ready' && m.port) {
        child.off('exit', onExit);
        resolve({ child, port: m.port });
      }
    });
  });
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  apiCpuMs: number;
  pgCpuMs: number;
}

const fmtLoad = (name: string, r: LoadResult) =>
  `${name} ${r.rps.toFixed(0)} req/s p50=${ms(r.p50)}ms p99=${ms(r.p99)}ms non2xx=${r.non2xx} ` +
  `errors=${r.errors} cpu/req api=${r.apiCpuMs.toFixed(2)}ms pg=${r.pgCpuMs.toFixed(2)}ms`;

/** A probe: `fn` every `everyMs` (sequentially, one at a time) until stopped; its latencies. */
function probe(fn: () => Promise<void>, everyMs: number) {
  const samples: number[] = [];
  let failures = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const t = performance.now();
      try {
        await fn();
      } catch {
        failures++;
      }
      const took = performance.now() - t;
      samples.push(took);
      await sleep(everyMs - took);
    }
  })();
  return {
    async stop(): Promise<{ latency: Latency; failures: number }> {
      stopped = true;
      await done;
      return { latency: summarize(samples), failures };
    },
  };
}

export const accessLoad: Benchmark = {
  name: 'access-load',
  description: `entitlement access over HTTP under load (autocannon; ${LEVELS.join('/')} connections × ${DURATION_S} s)`,
  async run(db) {
    const { orm, url } = await db.fresh('access_load', 4);
    const now = new Date();
    const anchor = new Date(now.getTime() - 10 * DAY);

    const { meter, plan } = await seedAccessCatalog(orm, LIMIT);

    const conn = orm.em.getConnection();
    progress(`seeding ${fmtInt(CUSTOMERS)} customers with subjects and subscriptions`);
    await seedCustomersWithSubscriptions(conn, { count: CUSTOMERS, plan, anchor: anchor.toISOString() });
    progress(`seeding ${fmtInt(EVENTS)} events over 40 days (Zipf)`);
    await seedZipfEvents(
      conn,
      {
        count: EVENTS,
        customers: CUSTOMERS,
        type: 'api_call',
        from: new Date(now.getTime() - 40 * DAY).toISOString(),
        to: now.toISOString(),
      },
      (n) => progress(`  events ${fmtInt(n)} / ${fmtInt(EVENTS)}`),
    );
    progress('vacuum analyze');
    await conn.execute('vacuum analyze');
    const [{ share, period }] = await conn.execute<{ share: string; period: string }[]>(
      `select round(100.0 * count(*) filter (where subject in ('customer-1', 'subject-1')) / count(*), 1)::text
         as share,
         count(*) filter (where subject in ('customer-1', 'subject-1') and time >= ?::timestamptz)::text
         as period
       from events`,
      [anchor.toISOString()],
    );
    progress(`customer-1 sends ${share}% of the events, ${period} in the current usage period`);
    const [{ pid: backend }] = await conn.execute<{ pid: number }[]>('select pg_backend_pid() as pid');
    const postmaster = parentPid(backend);
    if (!postmaster) throw new Error('cannot find the PostgreSQL postmaster');

    const accessToken = 'bench-access-token-0123456789abcdefghij';
    const readToken = 'bench-read-token-0123456789abcdefghijkl';
    const logFile = path.join(os.tmpdir(), `tally-bench-access-load-api-${process.pid}.log`);
    progress(`starting the API (bench/lib/api-server.ts; log ${logFile})`);
    const api = await startApi(
      {
        ...process.env,
        DATABASE_URL: url,
        TALLY_API_TOKENS: `access=${accessToken},read=${readToken}`,
        LOG_LEVEL: process.env.BENCH_API_LOG_LEVEL ?? 'info',
        NODE_ENV: 'production',
      },
      logFile,
    );
    const base = `http://127.0.0.1:${api.port}`;
    const apiPid = api.child.pid!;
    const accessHeaders = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
    const readHeaders = { authorization: `Bearer ${readToken}` };
    const body = (key: string) => JSON.stringify({ customer: { keys: [key] } });
    const cid = (rank: number) => `BENCHC${String(rank).padStart(20, '0')}`;

    try {
      const post = async (key: string) => {
        const res = await fetch(base + ACCESS, { method: 'POST', headers: accessHeaders, body: body(key) });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`access: HTTP ${res.status}: ${text}`);
        return JSON.parse(text) as {
          data: { features: Record<string, { has_access: boolean; usage?: string }> }[];
        };
      };
      const sample = await post('customer-1');
      const f = sample.data[0]?.features;
      if (!f?.['api-calls'] || !f.sso?.has_access || !f.seats?.has_access)
        throw new Error(`unexpected answer: ${JSON.stringify(sample)}`);
      if (f['api-calls'].usage !== period)
        throw new Error(`customer-1 usage ${f['api-calls'].usage}, expected ${period}`);
      progress(`sample: customer-1 usage=${f['api-calls'].usage} has_access=${f['api-calls'].has_access}`);

      const sequential = async (label: string) => {
        progress(`[${label}] one request at a time: the largest customer (${ITERATIONS} runs)`);
        const largest = await measure(() => post('customer-1'), { iterations: ITERATIONS });
        progress(`  ${fmtLatency('largest', largest)}`);
        const r1 = rng(5);
        progress(`[${label}] one request at a time: a typical customer (${ITERATIONS} runs)`);
        const typical = await measure(() => post(`customer-${1 + Math.floor(r1() * CUSTOMERS)}`), {
          iterations: ITERATIONS,
        });
        progress(`  ${fmtLatency('typical', typical)}`);
        return `sequential ${fmtLatency('largest', largest)} ${fmtLatency('typical', typical)}`;
      };

      // a customer per request, drawn like the events: rank = floor((N+1)^u)
      const r2 = rng(9);
      const zipf = () => Math.min(CUSTOMERS, Math.floor(Math.pow(CUSTOMERS + 1, r2())));
      const r3 = rng(13);
      const uniform = () => 1 + Math.floor(r3() * CUSTOMERS);

      const load = async (connections: number, request: autocannon.Request): Promise<LoadResult> => {
        const api0 = cpuSec(apiPid);
        const pg0 = treeCpuSec(postmaster);
        const r = await autocannon({
          url: base,
          connections,
          duration: DURATION_S,
          requests: [request],
        });
        const api1 = cpuSec(apiPid);
        const pg1 = treeCpuSec(postmaster);
        const n = Math.max(1, r['2xx'] + r.non2xx);
        return {
          rps: n / r.duration,
          p50: r.latency.p50,
          p99: r.latency.p99,
          requests: n,
          non2xx: r.non2xx,
          errors: r.errors,
          apiCpuMs: ((api1 - api0) * 1000) / n,
          pgCpuMs: ((pg1 - pg0) * 1000) / n,
        };
      };
      const baselineRequest: autocannon.Request = {
        method: 'GET',
        path: '/v3/openmeter/customers/' + cid(1),
        headers: readHeaders,
        setupRequest: (req) => ({ ...req, path: `/v3/openmeter/customers/${cid(uniform())}` }),
      };
      const accessRequest: autocannon.Request = {
        method: 'POST',
        path: ACCESS,
        headers: accessHeaders,
        setupRequest: (req) => ({ ...req, body: body(`customer-${zipf()}`) }),
      };

      const levels = async (label: string) => {
        const lines: string[] = [];
        for (const c of LEVELS) {
          progress(`[${label}] ${c} connections: baseline GET /customers/{id} for ${DURATION_S} s`);
          const b = await load(c, baselineRequest);
          progress(`  ${fmtLoad('baseline', b)}`);
          progress(
            `[${label}] ${c} connections: access query for ${DURATION_S} s, probe GET /customers/{id} every 100 ms`,
          );
          const p = probe(async () => {
            const res = await fetch(`${base}/v3/openmeter/customers/${cid(uniform())}`, {
              headers: readHeaders,
            });
            await res.arrayBuffer();
            if (res.status !== 200) throw new Error(`probe: HTTP ${res.status}`);
          }, 100);
          const a = await load(c, accessRequest);
          const pr = await p.stop();
          const probeText =
            `probe p50=${ms(pr.latency.p50)}ms p99=${ms(pr.latency.p99)}ms max=${ms(pr.latency.max)}ms ` +
            `failed=${pr.failures}/${pr.latency.n}`;
          progress(`  ${fmtLoad('access', a)} | ${probeText}`);
          if (a.non2xx || a.errors || b.non2xx || b.errors || pr.failures)
            progress(`  WARNING: failed requests at ${c} connections (see ${logFile})`);
          lines.push(`c=${c}: ${fmtLoad('access', a)}; ${probeText}; ${fmtLoad('baseline', b)}`);
        }
        return lines.join(' | ');
      };

      // the baseline: no rollups yet (the access query reads the events)
      const raw = `raw: ${await sequential('raw')} | ${await levels('raw')}`;

      // the meter's rollups built as the worker's roller builds them (up to the last whole hour 5 minutes
      // ago); the API reads them from the next request on
      progress('building the meter rollups (rollForward, one day per transaction)');
      const t0 = Date.now();
      await rollForward(orm.em.fork(), meter);
      const check = await checkRollups(orm.em.fork(), meter.id);
      const rolledSample = await post('customer-1');
      if (rolledSample.data[0]?.features['api-calls']?.usage !== period)
        throw new Error(`customer-1 usage over rollups: ${JSON.stringify(rolledSample)}`);
      const built = `rollups built in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${check.rows} rows, ${check.differing} differing`;
      progress(`  ${built}`);
      const rolled = `rolled: ${await sequential('rolled')} | ${await levels('rolled')}`;

      return [
        `access-load (${fmtInt(CUSTOMERS)} customers, ${fmtInt(EVENTS)} events, largest ${share}% = ` +
          `${fmtInt(Number(period))} in period, ${DURATION_S} s per run):`,
        raw,
        `| ${built} |`,
        rolled,
      ].join(' ');
    } finally {
      await stopProcess(api.child);
    }
  },
};
