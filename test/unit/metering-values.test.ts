/** Pure parts of the event value / time rules (the SQL value rule is tested against PostgreSQL in test/hardening). */
import { numericFits, unstorableNumber, validateEvents } from '../../src/metering/events';
import { eventTimeProblem } from '../../src/metering/time';

describe('eventTimeProblem: 1970-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999Z, rounded as PostgreSQL does', () => {
  it.each([
    ['2026-06-01T12:00:00Z', true],
    ['1970-01-01T00:00:00Z', true],
    ['1970-01-01T00:00:00.0000004Z', true],
    ['1970-01-01T01:00:00+01:00', true],
    ['1969-12-31T23:59:59.999999Z', false],
    ['1969-12-31T23:59:59.9999995Z', true], // rounds up to 1970-01-01T00:00:00Z
    ['1970-01-01T00:30:00+01:00', false],
    ['0001-01-01T00:00:00Z', false],
    ['9999-12-31T23:59:59.999999Z', true],
    ['9999-12-31T23:59:59.9999994Z', true],
    ['9999-12-31T23:59:59.9999985Z', true], // half to even: .999998
    ['9999-12-31T23:59:59.9999995Z', false], // half to even: 10000-01-01
    ['9999-12-31T23:59:59.999999999Z', false],
    ['9999-12-31T21:59:59.999999-02:00', true],
    ['9999-12-31T22:00:00-02:00', false],
    ['9999-12-31T23:59:59.999999z', true],
    // an offset does not hide the fraction
    ['9999-12-31T23:59:59.9999999+00:00', false],
    ['9999-12-31T21:59:59.9999999-02:00', false],
    ['9999-12-31T21:59:59.9999994-02:00', true],
    // digits past the seventh are a fraction, not a number compared with 500
    ['9999-12-31T23:59:59.9999991000Z', true],
    ['9999-12-31T23:59:59.99999949999Z', true],
    ['9999-12-31T23:59:59.99999950001Z', false],
    ['1969-12-31T23:59:59.9999991000Z', false],
  ])('%s → %s', (t, ok) => {
    expect(eventTimeProblem(t) === undefined).toBe(ok);
  });

  it('is applied by validation, naming the field', () => {
    const r = validateEvents(
      { id: 'a', source: 's', type: 't', subject: 'x', time: '9999-12-31T23:59:59.999999999Z' },
      'single',
      '2026-01-01T00:00:00Z',
    );
    expect(r.errors.map((e) => e.field)).toEqual(['body.time']);
  });
});

describe('numericFits / unstorableNumber', () => {
  it.each([
    ['0', true],
    ['-12.5e3', true],
    ['1e131071', true],
    ['1e131072', false],
    ['1e-16383', true],
    ['1e-16384', false],
    ['0e-16384', false],
    ['0.0e131072', true],
    ['1e99999999999', false],
  ])('%s → %s', (t, ok) => expect(numericFits(t)).toBe(ok));

  it('finds numbers outside strings only', () => {
    expect(unstorableNumber('{"a":"1e200000","b":[1,2e3,{"c":-1e-20000}]}')).toBe('-1e-20000');
    expect(unstorableNumber('{"a":"x\\"1e200000","b":1}')).toBeUndefined();
    expect(unstorableNumber('{"1e200000":1}')).toBeUndefined();
  });
});

describe('size limits', () => {
  const ev = (over: Record<string, unknown>) => ({ id: 'a', source: 's', type: 't', subject: 'x', ...over });
  it('counts UTF-8 bytes of id, source, type and subject (1,024 at most)', () => {
    const now = '2026-01-01T00:00:00Z';
    expect(validateEvents(ev({ subject: 'é'.repeat(512) }), 'single', now).errors).toEqual([]);
    expect(validateEvents(ev({ subject: 'é'.repeat(513) }), 'single', now).errors).toEqual([
      { field: 'body.subject', reason: 'must be at most 1024 bytes (UTF-8)' },
    ]);
    expect(validateEvents(ev({ id: '😀'.repeat(257) }), 'single', now).errors.map((e) => e.field)).toEqual([
      'body.id',
    ]);
  });
  it('limits data to 65,536 bytes of compact JSON', () => {
    const now = '2026-01-01T00:00:00Z';
    const fits = { s: 'x'.repeat(65_536 - 8) }; // {"s":"…"} is 8 bytes of syntax
    expect(validateEvents(ev({ data: fits }), 'single', now).errors).toEqual([]);
    expect(validateEvents(ev({ data: { s: `${fits.s}x` } }), 'single', now).errors).toEqual([
      { field: 'body.data', reason: 'must be at most 65536 bytes as JSON (UTF-8)' },
    ]);
  });
});
