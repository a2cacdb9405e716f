import type { Client } from '@temporalio/client';
import type { Config } from './config';
import type { Orm } from './db/orm';
import type { Logger } from './lib/logger';

/** What routes, services and activities are built from (createX(deps) factories). */
export interface AppDeps {
  config: Config;
  orm: Orm;
  logger: Logger;
  /** Temporal client; absent in tests and tools that do not start workflows */
  temporal?: Client;
}
