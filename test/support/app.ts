/** An app wired as in production, against a fresh test database. */
import type { Client } from '@temporalio/client';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { loadConfig, type Config } from '../../src/config';
import type { AppDeps } from '../../src/deps';
import { logger } from '../../src/lib/logger';
import { ensureBillingSetup } from '../../src/billing/settings';
import { createTestDatabase, type TestDatabase } from './db';

export const TEST_TOKEN = 'test-token-0123456789abcdefghijklmnop';

export interface TestApp {
  deps: AppDeps;
  db: TestDatabase;
  /** supertest agent with the bearer token set */
  api: {
    get(url: string): request.Test;
    post(url: string): request.Test;
    put(url: string): request.Test;
    patch(url: string): request.Test;
    delete(url: string): request.Test;
  };
  raw: ReturnType<typeof request>;
  close(): Promise<void>;
}

export async function createTestApp(
  opts: {
    config?: Partial<Record<string, string>>;
    temporal?: Client;
    /** the Stripe SDK's HTTP client (test/support/stripe.ts records the requests) */
    stripeHttpClient?: AppDeps['stripeHttpClient'];
  } = {},
): Promise<TestApp> {
  const db = await createTestDatabase();
  const config: Config = loadConfig({
    ...process.env,
    DATABASE_URL: db.url,
    TALLY_API_TOKENS: TEST_TOKEN,
    // stripe-mock, started by scripts/test.ts
    ...(process.env.STRIPE_MOCK_URL ? { TALLY_STRIPE_API_BASE: process.env.STRIPE_MOCK_URL } : {}),
    ...opts.config,
  });
  const deps: AppDeps = {
    config,
    orm: db.orm,
    logger,
    temporal: opts.temporal,
    ...(opts.stripeHttpClient ? { stripeHttpClient: opts.stripeHttpClient } : {}),
  };
  // as the API and the worker do at start
  await ensureBillingSetup(db.orm.em.fork(), config.TALLY_COLLECTION_PERIOD);
  const app = createApp(deps);
  const raw = request(app);
  const auth = (t: request.Test) => t.set('Authorization', `Bearer ${TEST_TOKEN}`);
  return {
    deps,
    db,
    raw,
    api: {
      get: (u) => auth(raw.get(u)),
      post: (u) => auth(raw.post(u)),
      put: (u) => auth(raw.put(u)),
      patch: (u) => auth(raw.patch(u)),
      delete: (u) => auth(raw.delete(u)),
    },
    close: () => db.drop(),
  };
}
