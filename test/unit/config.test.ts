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

  it('keeps idempotency keys P1D by default, and at least 24 hours', () => {
    expect(loadConfig({}).TALLY_IDEMPOTENCY_TTL).toBe('P1D');
    for (const v of ['PT24H', 'P2D', 'P1W', 'P1M'])
      expect(loadConfig({ TALLY_IDEMPOTENCY_TTL: v }).TALLY_IDEMPOTENCY_TTL).toBe(v);
    for (const v of ['PT23H59M', 'PT1H', '24h', 'P'])
      expect(() => loadConfig({ TALLY_IDEMPOTENCY_TTL: v })).toThrow(/TALLY_IDEMPOTENCY_TTL/);
  });

  it('rejects a bad port', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  });
});
