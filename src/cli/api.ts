/** `npm run api`: the HTTP API. Needs PostgreSQL (migrated) and Temporal; refuses to run without API tokens. */
import { createApp } from '../api/app';
import { listen } from '../api/server';
import { loadConfig } from '../config';
import { createOrm } from '../db/orm';
import { closePreparedPools } from '../db/prepared';
import { closeIngestPools } from '../metering/ingest';
import { logger } from '../lib/logger';
import { ensureBillingSetup } from '../billing/settings';
import { startNotificationDispatch } from '../notifications/dispatch';
import { flushThresholds } from '../notifications/thresholds';
import { connectTemporal } from '../temporal/client';
import { fatal, notifyReady, onShutdown } from './lifecycle';

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.TALLY_API_TOKENS.length === 0) {
    throw new Error(
      'TALLY_API_TOKENS is empty: set it to one or more comma-separated bearer tokens ' +
        '(each at least 32 characters, e.g. TALLY_API_TOKENS=$(openssl rand -hex 24)); ' +
        'the API refuses to run unauthenticated',
    );
  }
  const orm = await createOrm(config.DATABASE_URL, config.DATABASE_POOL_MAX, config.DATABASE_ACQUIRE_MS);
  // the default billing profile, at first start (idempotent; the worker does the same)
  await ensureBillingSetup(orm.em.fork(), config.TALLY_COLLECTION_PERIOD);
  const temporal = await connectTemporal(config);
  const app = createApp({ config, orm, logger, temporal: temporal.client });
  // webhook deliveries: started after each commit that recorded events, and by the sweeper
  const dispatch = startNotificationDispatch({ config, orm, logger, temporal: temporal.client });
  const http = await listen(app, config.PORT);
  logger.info(
    { port: http.port, temporal: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE },
    'API listening',
  );

  onShutdown(async () => {
    await http.close();
    await flushThresholds({ orm, logger });
    await dispatch.stop();
    await closeIngestPools();
    await closePreparedPools();
    await orm.close();
    await temporal.connection.close();
    logger.info('API stopped');
  });
  notifyReady({ port: http.port });
}

main().catch(fatal('api'));
