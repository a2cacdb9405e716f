/**
 * The HTTP API as a child process of a benchmark (bench/access-load.ts): the app `src/cli/api.ts` serves
 * (`createApp` from the same configuration, `loadConfig()` from the environment), listening on a free port of
 * 127.0.0.1, without a Temporal connection (no route the benchmarks call starts a workflow) and without the
 * notification dispatcher. Its own process, so that its CPU time can be read from /proc apart from the load
 * generator's. Tells its parent `{ type: 'ready', port }` over IPC; stops on SIGTERM.
 */
import { createApp } from '../../src/api/app';
import { listen } from '../../src/api/server';
import { loadConfig } from '../../src/config';
import { createOrm } from '../../src/db/orm';
import { logger } from '../../src/lib/logger';

async function main(): Promise<void> {
  const config = loadConfig();
  const orm = await createOrm(config.DATABASE_URL, config.DATABASE_POOL_MAX, config.DATABASE_ACQUIRE_MS);
  const app = createApp({ config, orm, logger });
  const http = await listen(app, 0, '127.0.0.1');
  process.once('SIGTERM', () => {
    void http
      .close(2000)
      .then(() => orm.close())
      .finally(() => process.exit(0));
  });
  process.send?.({ type: 'ready', port: http.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`[api-server] ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
