/**
 * Processes of the Temporal benchmarks (billing-run, billing-day): the Temporal dev server and the worker as
 * child processes, and what /proc says about them (RSS, CPU) and about the PostgreSQL server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../../scripts/lib/net';
import { temporalCliPath } from '../../scripts/lib/tools';
import { cliSearchAttributeFlags } from '../../src/temporal/search-attributes';

const ROOT = path.resolve(__dirname, '../..');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
export const mb = (kb: number) => (kb / 1024).toFixed(0);

/** VmRSS of a process in kB (0 when it is gone). */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** /proc/<pid>/stat fields after the command (index 0 = state), or undefined when the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSec(pid: number): number {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) / 100 : 0;
}

/**
 * CPU seconds of a process tree's root and of its children: the root's own time, the time of the children
 * that have exited (cutime + cstime, which the root has waited for) and the time of the live ones. For the
 * PostgreSQL postmaster: every backend and background process, including those of closed connections.
 */
export function treeCpuSec(rootPid: number): number {
  const f = statFields(rootPid);
  if (!f) return 0;
  let total = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const c = statFields(Number(name));
    if (c && Number(c[1]) === rootPid) total += (Number(c[11]) + Number(c[12])) / 100;
  }
  return total;
}

/** The parent pid of a process (0 when it is gone). */
export function parentPid(pid: number): number {
  const f = statFields(pid);
  return f ? Number(f[1]) : 0;
}

/** Samples a process's RSS every 250 ms; `peakSince(t)` is the highest sample taken at or after t. */
export function rssSampler(pid: number) {
  const samples: { t: number; kb: number }[] = [];
  const timer = setInterval(() => samples.push({ t: Date.now(), kb: rssKb(pid) }), 250);
  return {
    stop: () => clearInterval(timer),
    peakSince: (t: number) => Math.max(0, ...samples.filter((s) => s.t >= t).map((s) => s.kb)),
    /** mean over [from, to) */
    mean(from: number, to: number) {
      const w = samples.filter((s) => s.t >= from && s.t < to);
      return w.length ? w.reduce((a, s) => a + s.kb, 0) / w.length : rssKb(pid);
    },
  };
}

/** `src/cli/worker.ts` as a child process (BENCH_WORKER_NODE_ARGS: extra node flags, e.g. --cpu-prof). */
export function startWorker(env: NodeJS.ProcessEnv, logFile: string): Promise<ChildProcess> {
  const out = openSync(logFile, 'a');
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'src/cli/worker.ts')],
    {
      cwd: ROOT,
      env,
      stdio: ['ignore', out, out, 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`worker exited (${code}); see ${logFile}`));
    child.once('exit', onExit);
    child.on('message', (m: { type?: string }) => {
      if (m?.type === 'ready') {
        child.off('exit', onExit);
        resolve(child);
      }
    });
  });
}

/** A benchmark worker's environment: the bench's database, Temporal and task queue, and the default
 * billing profile's collection interval (the worker creates that profile at its first start). */
export function benchWorkerEnv(o: {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  collectionPeriod: string;
}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    TEMPORAL_ADDRESS: o.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: o.taskQueue,
    TALLY_COLLECTION_PERIOD: o.collectionPeriod,
    LOG_LEVEL: process.env.BENCH_WORKER_LOG_LEVEL ?? 'warn',
  };
}

/** `startWorker` logging to `<dir>/worker.log`, with an RSS sampler; both are stopped by `cleanup`. */
export async function startSampledWorker(
  env: NodeJS.ProcessEnv,
  dir: string,
  cleanup: (() => Promise<void>)[],
  progress: (msg: string) => void,
) {
  const workerLog = path.join(dir, 'worker.log');
  progress(`starting the worker (src/cli/worker.ts; log ${workerLog})`);
  const worker = await startWorker(env, workerLog);
  cleanup.unshift(() => stopProcess(worker));
  const rss = rssSampler(worker.pid!);
  cleanup.unshift(() => Promise.resolve(rss.stop()));
  return { worker, rss };
}

export interface TemporalOptions {
  /** `file` (a SQLite file in the data dir, as `npm start` runs it) or `memory` */
  db: string;
  /** SQLite pragmas, e.g. `journal_mode=wal` */
  pragmas: string[];
}

/**
 * The Temporal dev server, started like scripts/lib/temporal.ts's ensureTemporalDevServer (same CLI, search
 * attributes, temp data dir, free ports) but always a new one, with the benchmark's storage options.
 */
export async function startTemporal(
  dataDir: string,
  opts: TemporalOptions,
): Promise<{ address: string; child: ChildProcess }> {
  const port = await freePort();
  const log = openSync(path.join(dataDir, 'temporal.log'), 'a');
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless'];
  args.push('--log-level', 'warn', ...cliSearchAttributeFlags());
  if (opts.db === 'file') args.push('--db-filename', path.join(dataDir, 'temporal.db'));
  for (const p of opts.pragmas) args.push('--sqlite-pragma', p);
  const child = spawn(temporalCliPath(), args, { stdio: ['ignore', log, log] });
  await waitForPort(port, 60_000, 'Temporal dev server');
  return { address: `127.0.0.1:${port}`, child };
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
  });
}
