import express from 'express';
import request from 'supertest';
import { z } from 'zod';
import { errorHandler, problemBody, wireParam } from '../../src/api/problem';
import { parseBody, parseQuery } from '../../src/api/validate';

/** OpenMeter's problem shape: BaseError fields, and `invalid_parameters` items with field/rule/reason/source. */
describe('problem shape', () => {
  it('carries OpenMeter type URIs and the required BaseError fields', () => {
    const b = problemBody(404, 'meter m not found', '/v3/openmeter/meters/m');
    expect(b).toEqual({
      type: 'https://httpstatuses.com/404',
      title: 'Not Found',
      status: 404,
      detail: 'meter m not found',
      instance: '/v3/openmeter/meters/m',
    });
  });

  it('never answers a 400 with an empty invalid_parameters', () => {
    expect(problemBody(400, 'no good', '/x').invalid_parameters).toEqual([
      { field: 'request', rule: 'invalid', reason: 'no good' },
    ]);
  });

  it.each([
    [
      { field: 'body.key', reason: 'is required' },
      { rule: 'required', source: 'body' },
    ],
    [
      { field: 'query.filter[x]', reason: 'unknown_property' },
      { rule: 'unknown_property', source: 'query' },
    ],
    [
      { field: 'path.customerId', reason: 'bad' },
      { rule: 'invalid', source: 'path' },
    ],
    [
      { field: 'body[3].data', reason: 'too big', index: 3 },
      { rule: 'invalid', source: 'body' },
    ],
    [
      { field: 'body.n', reason: 'too small', rule: 'min', minimum: 2 },
      { rule: 'min', minimum: 2 },
    ],
    [{ field: 'body.n', reason: 'too small', rule: 'min', minimum: 0.5 }, { rule: 'invalid' }],
    [
      { field: 'body.n', reason: 'too big', rule: 'max_length', maximum: 8 },
      { rule: 'max_length', maximum: 8 },
    ],
    [
      { field: 'body.s', reason: 'pick', rule: 'enum', choices: ['a', 'b'] },
      { rule: 'enum', choices: ['a', 'b'] },
    ],
    [{ field: 'body.s', reason: 'pick', rule: 'enum', choices: [] }, { rule: 'invalid' }],
  ])('%j → %j', (param, expected) => {
    const out = wireParam(param);
    expect(out).toMatchObject({ field: param.field, ...expected });
    expect(out).not.toHaveProperty('index');
    if (expected.rule === 'invalid')
      expect(Object.keys(out).sort()).toEqual(['field', 'reason', 'rule', 'source']);
  });

  const schema = z.strictObject({
    name: z.string().min(3).max(10),
    kind: z.enum(['a', 'b']),
    at: z.iso.datetime().optional(),
    n: z.number().int().optional(),
    list: z.array(z.string()).min(1).optional(),
  });
  const app = express();
  app.use(express.json());
  app.post('/b', (req, res) => {
    res.json(parseBody(schema, req.body));
  });
  app.get('/q', (req, res) => {
    res.json(parseQuery(z.strictObject({ size: z.coerce.number().int().max(5) }), req.query));
  });
  app.use(errorHandler);

  it('maps validation failures to OpenMeter rules with their companion fields', async () => {
    const res = await request(app)
      .post('/b')
      .send({ name: 'xy', kind: 'c', at: 'yesterday', n: 'one', list: [], colour: 'red' });
    expect(res.status).toBe(400);
    expect(res.type).toBe('application/problem+json');
    const byField = Object.fromEntries(
      (res.body.invalid_parameters as { field: string }[]).map((p) => [p.field, p]),
    );
    expect(byField).toEqual({
      'body.name': expect.objectContaining({ rule: 'min_length', minimum: 3, source: 'body' }),
      'body.kind': expect.objectContaining({ rule: 'enum', choices: ['a', 'b'] }),
      'body.at': expect.objectContaining({ rule: 'is_date_time' }),
      'body.n': expect.objectContaining({ rule: 'is_number' }),
      'body.list': expect.objectContaining({ rule: 'min_items', minimum: 1 }),
      'body.colour': expect.objectContaining({ rule: 'unknown_property', reason: 'is not a known property' }),
    });
    const missing = await request(app).post('/b').send({});
    expect(missing.body.invalid_parameters).toEqual(
      expect.arrayContaining([
        { field: 'body.name', rule: 'required', reason: expect.any(String), source: 'body' },
      ]),
    );
    const q = await request(app).get('/q?size=9');
    expect(q.body.invalid_parameters).toEqual([
      { field: 'query.size', rule: 'max', maximum: 5, reason: expect.any(String), source: 'query' },
    ]);
  });

  it('names the body on malformed JSON', async () => {
    const res = await request(app).post('/b').set('Content-Type', 'application/json').send('{"a":');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      type: 'https://httpstatuses.com/400',
      invalid_parameters: [{ field: 'body', rule: 'invalid', source: 'body' }],
    });
  });
});
