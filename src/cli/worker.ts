/** `npm run worker`: the Temporal worker (subscription workflows + activities). Runs until SIGINT/SIGTERM. */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createOrm } from '../db/orm';
import { closePreparedPools } from '../db/prepared';
import { logger } from '../lib/logger';
import { ensureBillingSetup } from '../billing/settings';
import { startRollups } from '../metering/service';
import { startNotificationDispatch } from '../notifications/dispatch';
import { connectTemporal, retryConnect } from '../temporal/client';
import { createWorker, installTemporalLogging, workerTuningFromEnv } from '../temporal/worker';
import { fatal, notifyReady, onShutdown } from './lifecycle';

async function main(): Promise<void> {
  const config = loadConfig();
  const tuning = workerTuningFromEnv();
  installTemporalLogging(logger);
  const orm = await createOrm(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  // the default billing profile, at first start (idempotent; the API does the same)
  await ensureBillingSetup(orm.em.fork(), config.TALLY_COLLECTION_PERIOD);
  const connection = await retryConnect(`Temporal at ${config.TEMPORAL_ADDRESS}`, () =>
    NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }),
  );
  const worker = await createWorker(
    { config, orm, logger },
    { connection, taskQueue: config.TEMPORAL_TASK_QUEUE, tuning },
  );

  // webhook deliveries recorded by the activities: started after their commits (and by the sweeper)
  const temporal = await connectTemporal(config);
  const dispatch = startNotificationDispatch({ config, orm, logger, temporal: temporal.client });
  // meter rollups rolled forward (src/metering/rollups.ts)
  const rollups = startRollups(
    { orm, logger },
    { intervalMs: config.TALLY_ROLLUP_INTERVAL_S * 1000, lagMs: config.TALLY_ROLLUP_LAG_S * 1000 },
  );

  const running = (async () => {
    try {
      await worker.run();
    } finally {
      await dispatch.stop();
      await rollups.stop();
      await temporal.connection.close();
      await connection.close();
      await closePreparedPools();
      await orm.close();
      logger.info('worker stopped');
    }
  })();
  // The Temporal runtime also shuts workers down on SIGINT/SIGTERM; this adds the parent-exit case.
  onShutdown(() => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    return running;
  });
  logger.info(
    { taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE, ...tuning },
    'worker running',
  );
  notifyReady({ taskQueue: config.TEMPORAL_TASK_QUEUE });
  await running;
}

main().then(() => process.exit(0), fatal('worker'));
