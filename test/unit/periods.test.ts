import {
  addDuration,
  isValidDuration,
  minDurationMs,
  nthBoundary,
  nthPeriod,
  parseDuration,
  periodContaining,
} from '../../src/catalog/periods';

const d = (s: string) => new Date(s);
const iso = (x: Date) => x.toISOString();

describe('parseDuration', () => {
  it('parses every component', () => {
    expect(parseDuration('P1Y2M3W4DT5H6M7.5S')).toEqual({
      years: 1,
      months: 2,
      weeks: 3,
      days: 4,
      hours: 5,
      minutes: 6,
      seconds: 7.5,
    });
  });

  it.each(['PT1M', 'P1M', 'P1Y', 'P2W', 'P1D', 'PT1H', 'PT30S', 'P1DT12H'])('accepts %s', (s) => {
    expect(isValidDuration(s)).toBe(true);
  });

  it.each(['', 'P', 'PT', '1M', 'P1H', 'PT1D', 'P-1M', 'P1.5M', 'p1m', 'P1M ', 'PT1M2H'])(
    'rejects %j',
    (s) => {
      expect(isValidDuration(s)).toBe(false);
      expect(() => parseDuration(s)).toThrow(RangeError);
    },
  );

  it('computes the minimum length (month = 28 days)', () => {
    expect(minDurationMs('PT1M')).toBe(60_000);
    expect(minDurationMs('PT59S')).toBe(59_000);
    expect(minDurationMs('P1M')).toBe(28 * 86_400_000);
    expect(minDurationMs('P1W')).toBe(7 * 86_400_000);
  });
});

describe('addDuration', () => {
  it('clamps month-end dates to the end of shorter months', () => {
    expect(iso(addDuration(d('2025-01-31T00:00:00Z'), 'P1M'))).toBe('2025-02-28T00:00:00.000Z');
    expect(iso(addDuration(d('2024-01-31T00:00:00Z'), 'P1M'))).toBe('2024-02-29T00:00:00.000Z');
    expect(iso(addDuration(d('2025-03-31T10:20:30Z'), 'P1M'))).toBe('2025-04-30T10:20:30.000Z');
  });

  it('uses the anchor day of month when given (Feb 28 + P1M from a Jan 31 anchor = Mar 31)', () => {
    expect(iso(addDuration(d('2025-02-28T00:00:00Z'), 'P1M', d('2025-01-31T00:00:00Z')))).toBe(
      '2025-03-31T00:00:00.000Z',
    );
    expect(iso(addDuration(d('2025-02-28T00:00:00Z'), 'P1M'))).toBe('2025-03-28T00:00:00.000Z');
  });

  it('handles leap days for yearly cadences', () => {
    expect(iso(addDuration(d('2024-02-29T00:00:00Z'), 'P1Y'))).toBe('2025-02-28T00:00:00.000Z');
    expect(iso(addDuration(d('2024-02-29T00:00:00Z'), 'P4Y'))).toBe('2028-02-29T00:00:00.000Z');
  });

  it('adds days, weeks and time exactly', () => {
    expect(iso(addDuration(d('2025-12-31T23:59:00Z'), 'PT1M'))).toBe('2026-01-01T00:00:00.000Z');
    expect(iso(addDuration(d('2025-02-25T00:00:00Z'), 'P1W'))).toBe('2025-03-04T00:00:00.000Z');
    expect(iso(addDuration(d('2024-02-28T12:00:00Z'), 'P1DT12H'))).toBe('2024-03-01T00:00:00.000Z');
    expect(iso(addDuration(d('2025-01-01T00:00:00Z'), 'PT0.25S'))).toBe('2025-01-01T00:00:00.250Z');
  });

  it('crosses years with months', () => {
    expect(iso(addDuration(d('2025-11-15T00:00:00Z'), 'P3M'))).toBe('2026-02-15T00:00:00.000Z');
    expect(iso(addDuration(d('2025-11-30T00:00:00Z'), 'P1Y3M'))).toBe('2027-02-28T00:00:00.000Z');
  });
});

describe('nthBoundary', () => {
  const anchor = d('2025-01-31T08:00:00Z');

  it('computes monthly boundaries from the anchor, not by repeated addition', () => {
    const got = [0, 1, 2, 3, 4].map((n) => iso(nthBoundary(anchor, 'P1M', n)));
    expect(got).toEqual([
      '2025-01-31T08:00:00.000Z',
      '2025-02-28T08:00:00.000Z',
      '2025-03-31T08:00:00.000Z',
      '2025-04-30T08:00:00.000Z',
      '2025-05-31T08:00:00.000Z',
    ]);
    // repeated addition would drift to the 28th
    let x = anchor;
    for (let i = 0; i < 2; i++) x = addDuration(x, 'P1M');
    expect(iso(x)).toBe('2025-03-28T08:00:00.000Z');
  });

  it('gives Feb 29 in leap years', () => {
    expect(iso(nthBoundary(d('2024-01-31T00:00:00Z'), 'P1M', 1))).toBe('2024-02-29T00:00:00.000Z');
    expect(iso(nthBoundary(d('2024-02-29T00:00:00Z'), 'P1Y', 4))).toBe('2028-02-29T00:00:00.000Z');
    expect(iso(nthBoundary(d('2024-02-29T00:00:00Z'), 'P1Y', 1))).toBe('2025-02-28T00:00:00.000Z');
  });

  it('supports negative indexes', () => {
    expect(iso(nthBoundary(d('2025-03-31T00:00:00Z'), 'P1M', -1))).toBe('2025-02-28T00:00:00.000Z');
    expect(iso(nthBoundary(d('2025-03-01T00:00:00Z'), 'PT1M', -1))).toBe('2025-02-28T23:59:00.000Z');
  });

  it('supports minute cadences across many periods', () => {
    expect(iso(nthBoundary(d('2025-01-01T00:00:00Z'), 'PT1M', 60 * 24 * 365))).toBe(
      '2026-01-01T00:00:00.000Z',
    );
  });

  it('rejects non-integer indexes and zero cadences', () => {
    expect(() => nthBoundary(anchor, 'P1M', 1.5)).toThrow(RangeError);
    expect(() => nthBoundary(anchor, 'PT0S', 1)).toThrow(RangeError);
  });
});

describe('periodContaining', () => {
  const anchor = d('2025-01-31T00:00:00Z');

  it('is half-open: an instant exactly at a boundary starts the next period', () => {
    const p = periodContaining(anchor, 'P1M', d('2025-02-28T00:00:00Z'));
    expect(p.index).toBe(1);
    expect(iso(p.start)).toBe('2025-02-28T00:00:00.000Z');
    expect(iso(p.end)).toBe('2025-03-31T00:00:00.000Z');
    const before = periodContaining(anchor, 'P1M', d('2025-02-27T23:59:59.999Z'));
    expect(before.index).toBe(0);
    expect(iso(before.end)).toBe('2025-02-28T00:00:00.000Z');
  });

  it('returns period 0 at the anchor itself', () => {
    const p = periodContaining(anchor, 'P1M', anchor);
    expect(p).toEqual(nthPeriod(anchor, 'P1M', 0));
  });

  it('finds periods before the anchor', () => {
    const p = periodContaining(anchor, 'P1M', d('2024-12-31T00:00:00Z'));
    expect(p.index).toBe(-1);
    expect(iso(p.start)).toBe('2024-12-31T00:00:00.000Z');
    expect(iso(p.end)).toBe('2025-01-31T00:00:00.000Z');
  });

  it('finds far periods with month-end anchors', () => {
    const p = periodContaining(anchor, 'P1M', d('2027-03-15T00:00:00Z'));
    expect(iso(p.start)).toBe('2027-02-28T00:00:00.000Z');
    expect(iso(p.end)).toBe('2027-03-31T00:00:00.000Z');
    expect(p.index).toBe(25);
  });

  it('works with PT1M cadences', () => {
    const a = d('2025-01-01T00:00:30Z');
    const p = periodContaining(a, 'PT1M', d('2025-01-01T01:00:29.999Z'));
    expect(p.index).toBe(59);
    expect(iso(p.start)).toBe('2025-01-01T00:59:30.000Z');
    expect(iso(p.end)).toBe('2025-01-01T01:00:30.000Z');
    expect(periodContaining(a, 'PT1M', d('2025-01-01T01:00:30Z')).index).toBe(60);
  });

  it('always contains the instant (property check over a year of days)', () => {
    for (const cadence of ['P1M', 'P1W', 'P1Y', 'P3M', 'P1D', 'PT6H']) {
      for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2025, 0, 1); t += 86_400_000 + 3_600_000) {
        const at = new Date(t);
        const p = periodContaining(anchor, cadence, at);
        expect(p.start.getTime()).toBeLessThanOrEqual(t);
        expect(p.end.getTime()).toBeGreaterThan(t);
      }
    }
  });
});
