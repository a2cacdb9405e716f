import { loadConfig } from '../../src/config';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.TEMPORAL_NAMESPACE).toBe('default');
    expect(c.TALLY_COLLECTION_PERIOD).toBe('PT1H');
    expect(c.TALLY_API_TOKENS).toEqual([]);
  });

  it('splits and trims the API tokens', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(32));
    expect(loadConfig({ TALLY_API_TOKENS: ` ${a}, ${b} ,,${c} ` }).TALLY_API_TOKENS).toEqual([a, b, c]);
  });

  it.each(['PT0S', 'PT5S', 'PT1M', 'P1D', 'PT1H30M'])('accepts the collection period %s', (v) => {
    expect(loadConfig({ TALLY_COLLECTION_PERIOD: v }).TALLY_COLLECTION_PERIOD).toBe(v);
  });

  it.each(['1h', 'P', 'PT', 'PT-1S', 'hour'])(
    'rejects the collection period %s, naming the variable',
    (v) => {
      expect(() => loadConfig({ TALLY_COLLECTION_PERIOD: v })).toThrow(/TALLY_COLLECTION_PERIOD/);
    },
  );

  it('rejects a bad port', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  });
});
