import { meterFilters } from '../../src/billing/calculator';
import type { Feature } from '../../src/catalog/types';

const feature = (meter?: Feature['meter']): Feature => ({
  id: 'f',
  key: 'f',
  name: 'F',
  ...(meter ? { meter } : {}),
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
});

describe('meterFilters (feature meter filters → aggregateUsage filters)', () => {
  it('maps eq to a one-value list and keeps in lists', () => {
    expect(
      meterFilters(feature({ id: 'm', filters: { model: { eq: 'gpt' }, region: { in: ['eu', 'us'] } } })),
    ).toEqual({
      model: ['gpt'],
      region: ['eu', 'us'],
    });
  });

  it('no meter or no filters → undefined (no dimension filtering)', () => {
    expect(meterFilters(feature())).toBeUndefined();
    expect(meterFilters(feature({ id: 'm' }))).toBeUndefined();
    expect(meterFilters(feature({ id: 'm', filters: {} }))).toBeUndefined();
  });
});
