import { RawJson } from '../../src/lib/raw-json';
import {
  eventView,
  meterView,
  queryRowView,
  validationErrorView,
  type EventRow,
  type MeterRow,
} from '../../src/metering/views';

const meterRow: MeterRow = {
  id: '01ARZ3NDEKTSV4RRFFQ69G5FAV',
  key: 'tokens',
  name: 'Tokens',
  description: null,
  labels: null,
  aggregation: 'sum',
  event_type: 'prompt',
  value_property: '$.tokens',
  dimensions: null,
  events_from: null,
  created_at: '2026-01-01T00:00:00.000000Z',
  updated_at: '2026-01-01T00:00:00.000000Z',
  deleted_at: null,
};

describe('meterView', () => {
  it.each([
    ['2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01T00:00:00.123000Z', '2026-01-01T00:00:00.123Z'],
    ['2026-01-01T00:00:00.123456Z', '2026-01-01T00:00:00.123Z'],
    ['2026-01-01T00:00:00.999999Z', '2026-01-01T00:00:00.999Z'],
    ['2026-12-31T23:59:59.000001Z', '2026-12-31T23:59:59.000Z'],
    ['1999-02-28T12:00:00.500500Z', '1999-02-28T12:00:00.500Z'],
  ])('prints created_at/updated_at/deleted_at %s as %s (milliseconds, UTC)', (db, api) => {
    const v = meterView({ ...meterRow, created_at: db, updated_at: db, deleted_at: db });
    expect(v.created_at).toBe(api);
    expect(v.updated_at).toBe(api);
    expect(v.deleted_at).toBe(api);
  });

  it.each([
    ['2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01T00:00:00.123456Z', '2026-01-01T00:00:00.123456Z'],
    ['2026-01-01T00:00:00.100000Z', '2026-01-01T00:00:00.100Z'],
  ])('keeps events_from %s (user data) as %s', (db, api) => {
    expect(meterView({ ...meterRow, events_from: db }).events_from).toBe(api);
  });

  it('leaves out absent optional fields and defaults dimensions to {}', () => {
    expect(meterView({ ...meterRow, value_property: null })).toEqual({
      id: meterRow.id,
      key: 'tokens',
      name: 'Tokens',
      aggregation: 'sum',
      event_type: 'prompt',
      dimensions: {},
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:00:00.000Z',
    });
  });

  it('shows description, labels and dimensions when set', () => {
    const v = meterView({ ...meterRow, description: '', labels: { a: 'b' }, dimensions: { m: '$.m' } });
    expect(v).toMatchObject({ description: '', labels: { a: 'b' }, dimensions: { m: '$.m' } });
  });
});

const eventRow: EventRow = {
  source: 'src',
  id: 'e1',
  type: 'prompt',
  subject: 'acme',
  time: '2026-01-01T00:00:00.123456Z',
  data: '{"n": 1.50}',
  specversion: '1.0',
  datacontenttype: null,
  dataschema: null,
  ingested_at: '2026-01-02T00:00:00.000000Z',
  stored_at: '2026-01-02T00:00:00.000001Z',
  customer_id: null,
};

describe('eventView', () => {
  it('keeps event times to the microsecond and data as stored text', () => {
    const v = eventView(eventRow, []);
    expect(v.event.time).toBe('2026-01-01T00:00:00.123456Z');
    expect(v.ingested_at).toBe('2026-01-02T00:00:00.000Z');
    expect(v.stored_at).toBe('2026-01-02T00:00:00.000001Z');
    expect(v.event.data).toBeInstanceOf(RawJson);
    expect((v.event.data as RawJson).text).toBe('{"n": 1.50}');
    expect(v).not.toHaveProperty('customer');
    expect(v).not.toHaveProperty('validation_errors');
    expect(v.event).not.toHaveProperty('datacontenttype');
  });

  it('adds the customer, content type, schema and validation errors when present', () => {
    const problem = validationErrorView({ id: 'M', key: 'tokens', value_property: '$.n' }, 'not_a_number');
    const v = eventView(
      { ...eventRow, data: null, customer_id: 'C1', datacontenttype: 'application/json', dataschema: 'x' },
      [problem],
    );
    expect(v.event.data).toBeNull();
    expect(v.customer).toEqual({ id: 'C1' });
    expect(v.event).toMatchObject({ datacontenttype: 'application/json', dataschema: 'x' });
    expect(v.validation_errors).toEqual([problem]);
  });
});

describe('validationErrorView', () => {
  it.each([
    ['missing_value', /is missing or null/],
    ['not_a_number', /is not a number/],
    ['out_of_range', /below 10\^18, with at most 18 digits after the point/],
  ] as const)('%s names the meter and the value property', (code, text) => {
    const v = validationErrorView({ id: 'M1', key: 'tokens', value_property: '$.usage.n' }, code);
    expect(v.code).toBe(code);
    expect(v.message).toMatch(/^meter tokens: the value at \$\.usage\.n /);
    expect(v.message).toMatch(text);
    expect(v.attributes).toEqual({ meter_id: 'M1', meter_key: 'tokens', value_property: '$.usage.n' });
  });
});

describe('queryRowView', () => {
  it('maps value, bounds and group columns in order; a null value is 0', () => {
    const r = {
      value: null,
      from: '2026-01-01T00:00:00.000000Z',
      to: '2026-01-01T01:00:00.000000Z',
      g0: 'gpt',
      g1: null,
    };
    expect(queryRowView(r, ['model', 'region'])).toEqual({
      value: '0',
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-01-01T01:00:00.000Z',
      dimensions: { model: 'gpt', region: null },
    });
    expect(queryRowView({ ...r, value: '-1.5' }, []).value).toBe('-1.5');
  });
});
