/** When a pending line is collected (src/billing/collection.ts): alignment and the collection interval. */
import { anchorBoundaryAtOrAfter, collectionInstant } from '../../src/billing/collection';

const at = (s: string) => new Date(s);
const iso = (d: Date) => d.toISOString();

describe('collection instant', () => {
  const subscription = (interval: string) => ({ alignment: { type: 'subscription' as const }, interval });
  const anchored = (anchor: string, period: string, interval: string) => ({
    alignment: { type: 'anchored' as const, recurring_period: { anchor, interval: period } },
    interval,
  });

  it.each([
    ['2026-02-01T00:00:00.000Z', 'PT1H', '2026-02-01T01:00:00.000Z'],
    ['2026-02-01T00:00:00.000Z', 'PT0S', '2026-02-01T00:00:00.000Z'],
    ['2026-01-31T10:00:00.000Z', 'P1D', '2026-02-01T10:00:00.000Z'],
    ['2026-01-31T10:00:00.000Z', 'P1M', '2026-02-28T10:00:00.000Z'],
  ])('subscription alignment: %s + %s = %s', (invoiceAt, interval, expected) => {
    expect(iso(collectionInstant(at(invoiceAt), subscription(interval)))).toBe(expected);
  });

  it.each([
    // on a boundary: that boundary
    ['2026-03-10T00:00:00.000Z', '2026-03-10T00:00:00.000Z'],
    // between boundaries: the next one
    ['2026-03-10T00:00:00.001Z', '2026-04-10T00:00:00.000Z'],
    ['2026-03-01T00:00:00.000Z', '2026-03-10T00:00:00.000Z'],
    // before the anchor: the grid extends backwards
    ['2025-12-25T00:00:00.000Z', '2026-01-10T00:00:00.000Z'],
    ['2026-12-31T23:00:00.000Z', '2027-01-10T00:00:00.000Z'],
  ])('anchor boundary at or after %s is %s (anchor Feb 10, monthly)', (invoiceAt, expected) => {
    expect(iso(anchorBoundaryAtOrAfter(at('2026-02-10T00:00:00.000Z'), 'P1M', at(invoiceAt)))).toBe(expected);
  });

  it('anchored alignment: two subscriptions with different boundaries meet at the anchor', () => {
    const c = anchored('2026-01-15T00:00:00.000Z', 'P1M', 'PT1H');
    const a = collectionInstant(at('2026-02-01T00:00:00.000Z'), c);
    const b = collectionInstant(at('2026-02-07T12:00:00.000Z'), c);
    expect(iso(a)).toBe('2026-02-15T01:00:00.000Z');
    expect(iso(b)).toBe(iso(a));
    // a line due after that anchor waits for the next one
    expect(iso(collectionInstant(at('2026-02-15T00:00:01.000Z'), c))).toBe('2026-03-15T01:00:00.000Z');
  });

  it('anchored with a weekly recurring period and a day of collection', () => {
    const c = anchored('2026-01-05T00:00:00.000Z', 'P1W', 'P1D'); // Mondays
    expect(iso(collectionInstant(at('2026-01-07T09:00:00.000Z'), c))).toBe('2026-01-13T00:00:00.000Z');
    expect(iso(collectionInstant(at('2026-01-12T00:00:00.000Z'), c))).toBe('2026-01-13T00:00:00.000Z');
  });
});
