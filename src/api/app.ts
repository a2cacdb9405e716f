/** HTTP wiring only: parsers, auth, the domain routers, health, the OpenAPI document, errors. */
import { RequestContext } from '@mikro-orm/core';
import express, { type Express } from 'express';
import type { AppDeps } from '../deps';
import YAML from 'yaml';
import { bearerAuth } from './auth';
import { consoleHandlers } from './console';
import { buildOpenApiDocument } from './openapi';
import { guardPathParams, refuseHostileInput } from './hostile';
import { idempotency } from './idempotency';
import { errorHandler, notFoundHandler, UNAVAILABLE_RETRY_AFTER_S } from './problem';
import { keepRawBody } from './raw-body';
import { routers, unauthenticatedRouters } from './routers';

export const API_PREFIX = '/v3/openmeter';

const JSON_TYPES = [
  'application/json',
  'application/*+json',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
];

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'extended');
  app.set('trust proxy', deps.config.TALLY_TRUST_PROXY);

  // every API answer, errors and 404s included: never sniffed as another type, never cached
  app.use(API_PREFIX, (_req, res, next) => {
    res.set({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // names the dependency that is down, never the driver's message (it may name hosts, users, databases)
  app.get('/readyz', async (_req, res) => {
    const [postgres, temporal] = await Promise.all([
      probe(() => deps.orm.em.getConnection().execute('select 1')),
      deps.temporal
        ? probe(() => deps.temporal!.connection.workflowService.getSystemInfo({}))
        : Promise.resolve('not configured' as const),
    ]);
    const checks = { postgres, temporal };
    const ok = postgres === 'ok' && temporal === 'ok';
    if (!ok) res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_S));
    res
      .status(ok ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({
        status: ok ? 'ok' : 'unavailable',
        checks,
        ...(ok
          ? {}
          : { unavailable: Object.keys(checks).filter((k) => checks[k as keyof typeof checks] !== 'ok') }),
      });
  });

  const openapi = buildOpenApiDocument();
  const openapiYaml = YAML.stringify(openapi);
  app.get(['/openapi.json', `${API_PREFIX}/openapi.json`], (_req, res) => {
    res.json(openapi);
  });
  app.get(['/openapi.yaml', `${API_PREFIX}/openapi.yaml`], (_req, res) => {
    res.type('application/yaml').send(openapiYaml);
  });

  // callbacks that authenticate by their own signatures (the Stripe webhook), BEFORE the bearer-token
  // middleware: a bearer token is neither needed nor checked there
  for (const r of unauthenticatedRouters) app.use(API_PREFIX, guardPathParams(r.routes(deps)));

  const api = express.Router();
  api.use(
    bearerAuth(
      deps.config.TALLY_API_TOKENS,
      {
        maxFailures: deps.config.TALLY_AUTH_MAX_FAILURES,
        windowMs: deps.config.TALLY_AUTH_WINDOW_S * 1000,
      },
      openapi,
      API_PREFIX,
    ),
  );
  api.use(
    express.json({
      type: JSON_TYPES,
      limit: deps.config.TALLY_BODY_LIMIT,
      strict: false,
      verify: keepRawBody,
    }),
  );
  // NUL, unpaired surrogates, too-deep JSON: 400 naming the field, for every route (path params below)
  api.use(refuseHostileInput);
  // one MikroORM identity map per request
  api.use((_req, _res, next) => RequestContext.create(deps.orm.em, next));
  // Idempotency-Key on every POST: a repeat answers the first response, a reused key another request 422
  api.use(idempotency(deps));
  for (const r of routers) api.use(guardPathParams(r.routes(deps)));
  app.use(API_PREFIX, api);

  // the web console at / (a client of the API above; API paths never reach it)
  app.use(
    consoleHandlers({
      dir: deps.config.TALLY_CONSOLE_DIR,
      temporalUiUrl: deps.config.TALLY_TEMPORAL_UI_URL,
      temporalNamespace: deps.config.TEMPORAL_NAMESPACE,
    }),
  );

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/** how long /readyz waits for each dependency */
const PROBE_TIMEOUT_MS = 3000;

/** 'ok' or 'unavailable' within PROBE_TIMEOUT_MS; the error itself is not shown */
async function probe(check: () => Promise<unknown>): Promise<'ok' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'unavailable'>((resolve) => {
    timer = setTimeout(() => resolve('unavailable'), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check().then(() => 'ok' as const), timeout]);
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}
