/**
 * The Temporal worker: runs the subscription workflows (bundled from workflows/) and the activities
 * (built from the app's dependencies). Tuning comes from `TALLY_WORKER_*` environment variables.
 */
import type { Duration, Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { AppDeps } from '../deps';
import type { Logger } from '../lib/logger';

export interface WorkerTuning {
  /** workflows kept in memory between tasks (sticky cache); each sleeping subscription is one */
  maxCachedWorkflows: number;
  maxConcurrentWorkflowTaskExecutions: number;
  maxConcurrentActivityTaskExecutions: number;
  /** how long in-flight activities may run on shutdown before they are cancelled, e.g. "10s" */
  shutdownGraceTime: Duration;
  /**
   * how long a workflow task may wait for this worker on its sticky queue before the server hands it to
   * any worker (which replays the history). It bounds how late a crashed worker's cached subscriptions
   * are (measured: the invoices came 61.5 s late with 1m); shorter costs CPU only under overload, when a
   * busy worker's backlog outlasts it and its tasks time out and replay (BENCHMARKS.md, billing-run,
   * "Sticky timeout"): 15s by default
   */
  stickyQueueScheduleToStartTimeout: Duration;
  /** one V8 context for all workflows (the SDK's default) or one context per workflow */
  reuseV8Context: boolean;
  /** workflow task polls open at once (sticky and normal queue together) */
  maxConcurrentWorkflowTaskPolls: number;
  /**
   * the share of those polls on the normal queue, which holds the first task of every new workflow (a
   * customer's collection, an invoice) and the tasks of workflows not in the cache. The SDK's 0.2 leaves
   * two polls there: on a billing day, with thousands of cached workflows' tasks on the sticky queue, the
   * new invoices' first tasks waited a minute and more (BENCHMARKS.md, billing-day)
   */
  nonStickyToStickyPollRatio: number;
}

export const DEFAULT_WORKER_TUNING: WorkerTuning = {
  maxCachedWorkflows: 1000,
  maxConcurrentWorkflowTaskExecutions: 40,
  maxConcurrentActivityTaskExecutions: 40,
  shutdownGraceTime: '10s',
  stickyQueueScheduleToStartTimeout: '15s',
  reuseV8Context: true,
  maxConcurrentWorkflowTaskPolls: 20,
  nonStickyToStickyPollRatio: 0.5,
};

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

function ratio(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1)
    throw new Error(`${name} must be a number in (0, 1], got "${raw}"`);
  return n;
}

/**
 * TALLY_WORKER_MAX_CACHED_WORKFLOWS, TALLY_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
 * TALLY_WORKER_MAX_CONCURRENT_ACTIVITIES, TALLY_WORKER_SHUTDOWN_GRACE_TIME, TALLY_WORKER_STICKY_TIMEOUT,
 * TALLY_WORKER_REUSE_V8_CONTEXT, TALLY_WORKER_MAX_CONCURRENT_WORKFLOW_POLLS, TALLY_WORKER_NONSTICKY_POLL_RATIO
 */
export function workerTuningFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const d = DEFAULT_WORKER_TUNING;
  const duration = (name: string, fallback: Duration): Duration => {
    const v = env[name] || String(fallback);
    if (!/^\d+(ms|s|m)$/.test(v) || parseInt(v, 10) === 0) {
      throw new Error(`${name} must look like 10s, 500ms or 1m (not zero), got "${v}"`);
    }
    return v as Duration;
  };
  const reuse = env.TALLY_WORKER_REUSE_V8_CONTEXT;
  if (reuse !== undefined && reuse !== '' && reuse !== 'true' && reuse !== 'false') {
    throw new Error(`TALLY_WORKER_REUSE_V8_CONTEXT must be true or false, got "${reuse}"`);
  }
  return {
    maxCachedWorkflows: positiveInt(env, 'TALLY_WORKER_MAX_CACHED_WORKFLOWS', d.maxCachedWorkflows),
    maxConcurrentWorkflowTaskExecutions: positiveInt(
      env,
      'TALLY_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS',
      d.maxConcurrentWorkflowTaskExecutions,
    ),
    maxConcurrentActivityTaskExecutions: positiveInt(
      env,
      'TALLY_WORKER_MAX_CONCURRENT_ACTIVITIES',
      d.maxConcurrentActivityTaskExecutions,
    ),
    shutdownGraceTime: duration('TALLY_WORKER_SHUTDOWN_GRACE_TIME', d.shutdownGraceTime),
    stickyQueueScheduleToStartTimeout: duration(
      'TALLY_WORKER_STICKY_TIMEOUT',
      d.stickyQueueScheduleToStartTimeout,
    ),
    reuseV8Context: reuse ? reuse === 'true' : d.reuseV8Context,
    maxConcurrentWorkflowTaskPolls: positiveInt(
      env,
      'TALLY_WORKER_MAX_CONCURRENT_WORKFLOW_POLLS',
      d.maxConcurrentWorkflowTaskPolls,
    ),
    nonStickyToStickyPollRatio: ratio(env, 'TALLY_WORKER_NONSTICKY_POLL_RATIO', d.nonStickyToStickyPollRatio),
  };
}

export interface CreateWorkerOptions {
  connection: NativeConnection;
  taskQueue: string;
  /** defaults to deps.config.TEMPORAL_NAMESPACE */
  namespace?: string;
  tuning?: Partial<WorkerTuning>;
}

/**
 * Creates (does not run) the worker. Run it with `worker.run()`; `worker.shutdown()` (also triggered by
 * SIGINT/SIGTERM through the Temporal runtime) stops polling, lets in-flight tasks finish within the
 * grace time, and then `run()` resolves.
 */
export async function createWorker(deps: AppDeps, opts: CreateWorkerOptions): Promise<Worker> {
  const tuning = { ...DEFAULT_WORKER_TUNING, ...opts.tuning };
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? deps.config.TEMPORAL_NAMESPACE,
    taskQueue: opts.taskQueue,
    workflowsPath: require.resolve('../../workflows'),
    activities: createActivities(deps),
    maxCachedWorkflows: tuning.maxCachedWorkflows,
    maxConcurrentWorkflowTaskExecutions: tuning.maxConcurrentWorkflowTaskExecutions,
    maxConcurrentActivityTaskExecutions: tuning.maxConcurrentActivityTaskExecutions,
    // invoices and row writes run as local activities: the same bound as remote ones (the DB pool is shared)
    maxConcurrentLocalActivityExecutions: tuning.maxConcurrentActivityTaskExecutions,
    shutdownGraceTime: tuning.shutdownGraceTime,
    stickyQueueScheduleToStartTimeout: tuning.stickyQueueScheduleToStartTimeout,
    reuseV8Context: tuning.reuseV8Context,
    // at most the task slots (the SDK refuses more polls than slots)
    maxConcurrentWorkflowTaskPolls: Math.max(
      2,
      Math.min(tuning.maxConcurrentWorkflowTaskPolls, tuning.maxConcurrentWorkflowTaskExecutions),
    ),
    nonStickyToStickyPollRatio: tuning.nonStickyToStickyPollRatio,
  });
}

/**
 * Sends the Temporal SDK's own log lines (worker state, bundling, core) through pino. They are quiet by
 * default (`warn`); TALLY_TEMPORAL_LOG_LEVEL=info|debug|trace shows more. Call before creating workers.
 */
export function installTemporalLogging(
  logger: Logger,
  level = process.env.TALLY_TEMPORAL_LOG_LEVEL || 'warn',
): void {
  const child = logger.child({ component: 'temporal' }, { level });
  const log = (lvl: LogLevel, message: string, meta?: LogMetadata) => {
    const method = lvl.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
    child[method](meta ?? {}, message);
  };
  const adapter: TemporalLogger = {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
  Runtime.install({ logger: adapter });
}
