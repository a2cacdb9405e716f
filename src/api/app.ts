/** HTTP wiring only: parsers, auth, the domain routers, health, the OpenAPI document, errors. */
import { RequestContext } from '@mikro-orm/core';
import express, { type Express } from 'express';
import type { AppDeps } from '../deps';
import { modules } from '../modules';
import YAML from 'yaml';
import { bearerAuth } from './auth';
import { buildOpenApiDocument } from './openapi';
import { errorHandler, notFoundHandler } from './problem';
import { keepRawBody } from './raw-body';

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

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    try {
      await deps.orm.em.getConnection().execute('select 1');
      checks.postgres = 'ok';
    } catch (e) {
      checks.postgres = `error: ${(e as Error).message}`;
    }
    if (deps.temporal) {
      try {
        await deps.temporal.connection.workflowService.getSystemInfo({});
        checks.temporal = 'ok';
      } catch (e) {
        checks.temporal = `error: ${(e as Error).message}`;
      }
    } else {
      checks.temporal = 'not configured';
    }
    const ok = checks.postgres === 'ok' && checks.temporal === 'ok';
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });

  const openapi = buildOpenApiDocument();
  const openapiYaml = YAML.stringify(openapi);
  app.get(['/openapi.json', `${API_PREFIX}/openapi.json`], (_req, res) => {
    res.json(openapi);
  });
  app.get(['/openapi.yaml', `${API_PREFIX}/openapi.yaml`], (_req, res) => {
    res.type('application/yaml').send(openapiYaml);
  });

  const api = express.Router();
  api.use(bearerAuth(deps.config.TALLY_API_TOKENS));
  api.use(
    express.json({
      type: JSON_TYPES,
      limit: deps.config.TALLY_BODY_LIMIT,
      strict: false,
      verify: keepRawBody,
    }),
  );
  // one MikroORM identity map per request
  api.use((_req, _res, next) => RequestContext.create(deps.orm.em, next));
  for (const m of modules) if (m.routes) api.use(m.routes(deps));
  app.use(API_PREFIX, api);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
