import type { Client } from '@temporalio/client';
import type Stripe from 'stripe';
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
  /** the HTTP client of Stripe calls (tests: one that records the requests); absent: the SDK's */
  stripeHttpClient?: Stripe.HttpClient;
}
