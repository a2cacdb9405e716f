import express from 'express';
import request from 'supertest';
import { errorHandler } from '../../src/api/problem';
import {
  conflict,
  forbidden,
  gone,
  invalid,
  notFound,
  unauthenticated,
  unavailable,
  type DomainError,
} from '../../src/lib/errors';

/** Services throw domain errors; src/api/problem.ts is the one place that picks each one's status. */
describe('domain errors → problem+json', () => {
  const cases: [string, DomainError, number, Record<string, unknown>][] = [
    [
      'invalid',
      invalid('bad input', [{ field: 'body.key', reason: 'is required' }]),
      400,
      {
        invalid_parameters: [{ field: 'body.key', reason: 'is required' }],
      },
    ],
    ['unauthenticated', unauthenticated('no token'), 401, { detail: 'no token' }],
    ['forbidden', forbidden('not yours'), 403, { detail: 'not yours' }],
    ['not found', notFound('meter', 'm1'), 404, { detail: 'meter m1 not found' }],
    ['conflict', conflict('key taken', { conflicts: [{ key: 'k' }] }), 409, { conflicts: [{ key: 'k' }] }],
    ['gone', gone('feature', 'f1'), 410, { detail: 'feature f1 has been deleted' }],
    ['unavailable', unavailable('Temporal unavailable'), 503, { detail: 'Temporal unavailable' }],
  ];
  it.each(cases)('%s', async (_name, err, status, body) => {
    const app = express();
    app.get('/x', () => {
      throw err;
    });
    app.use(errorHandler);
    const res = await request(app).get('/x');
    expect(res.status).toBe(status);
    expect(res.type).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status, ...body });
    if (status === 503) expect(res.headers['retry-after']).toMatch(/^\d+$/);
    if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
  });
});
