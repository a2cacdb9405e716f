import { jsonPathProblem, jsonPathToPg, parseJsonPath, toPgTextArray } from '../../src/metering/jsonpath';
import { isRfc3339, normalizeTs } from '../../src/metering/time';
import { validateEvents } from '../../src/metering/events';

describe('meter JSONPath subset', () => {
  it.each([
    ['$.user_id', ['user_id']],
    ['$.usage.tokens', ['usage', 'tokens']],
    ['$.a["b-c"]', ['a', 'b-c']],
    ["$['x y'].z", ['x y', 'z']],
    ['$.items[0].n', ['items', '0', 'n']],
    ['$.m[12][3]', ['m', '12', '3']],
    ['$["with \\"quote\\""]', ['with "quote"']],
    ['$._private1', ['_private1']],
  ])('parses %s', (path, segs) => {
    expect(parseJsonPath(path)).toEqual(segs);
    expect(jsonPathProblem(path)).toBeUndefined();
  });

  it.each([
    '',
    '$',
    'user_id',
    '.user_id',
    '$..n',
    '$.items[*]',
    '$.items[-1]',
    '$.items[0:2]',
    '$[?(@.a > 1)]',
    '$.a.',
    '$.1abc',
    '$["unterminated]',
    '$[""]',
    '$.a b',
    '$.a["b"',
    '$.items[01]',
  ])('rejects %j', (path) => {
    expect(jsonPathProblem(path)).toEqual(expect.any(String));
    expect(() => parseJsonPath(path)).toThrow();
  });

  it('translates to a PostgreSQL text[] literal, escaping quotes and backslashes', () => {
    expect(jsonPathToPg('$.usage.tokens')).toBe('{"usage","tokens"}');
    expect(jsonPathToPg('$.items[0].n')).toBe('{"items","0","n"}');
    expect(toPgTextArray(['a"b', 'c\\d', 'e,f', '{g}'])).toBe('{"a\\"b","c\\\\d","e,f","{g}"}');
  });
});

describe('RFC 3339 timestamps', () => {
  it.each([
    '2026-01-01T00:00:00Z',
    '2026-01-01t00:00:00.123456z',
    '2024-02-29T23:59:59+05:30',
    '2026-12-31T00:00:00.1-08:00',
    '2026-01-01T00:00:00+14:00',
    '2026-01-01T00:00:00-15:59',
  ])('accepts %s', (s) => expect(isRfc3339(s)).toBe(true));
  it.each([
    '2026-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-01',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:00:00',
    'now',
    5,
    '1900-02-29T00:00:00Z',
    '2100-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-01-01T00:00:00+24:00',
    // PostgreSQL reads no offset beyond ±15:59 (schemathesis found the 500 this was)
    '0028-10-22T06:07:29+20:28',
    '2026-01-01T00:00:00-16:00',
  ])('rejects %j', (s) => expect(isRfc3339(s)).toBe(false));
  it('accepts exactly the real calendar days (checked against Date for 1896-2104 and years 1-8)', () => {
    const years = [...Array.from({ length: 209 }, (_, i) => 1896 + i), 1, 2, 3, 4, 5, 6, 7, 8];
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    for (const y of years) {
      for (let mo = 1; mo <= 12; mo++) {
        for (let d = 28; d <= 31; d++) {
          const real = new Date(`${pad(y, 4)}-${pad(mo)}-01T00:00:00Z`);
          real.setUTCDate(d);
          const exists = real.getUTCMonth() === mo - 1;
          expect([y, mo, d, isRfc3339(`${pad(y, 4)}-${pad(mo)}-${pad(d)}T12:00:00Z`)]).toEqual([
            y,
            mo,
            d,
            exists,
          ]);
        }
      }
    }
  });
  it('normalizes microsecond output to millisecond form when possible', () => {
    expect(normalizeTs('2026-01-01T00:00:00.123000Z')).toBe('2026-01-01T00:00:00.123Z');
    expect(normalizeTs('2026-01-01T00:00:00.123456Z')).toBe('2026-01-01T00:00:00.123456Z');
  });
});

describe('event validation', () => {
  const now = '2026-01-01T00:00:00.000Z';
  const good = { id: '1', source: 's', type: 't', subject: 'u' };
  it('fills defaults', () => {
    const { events, errors } = validateEvents(good, 'single', now);
    expect(errors).toEqual([]);
    expect(events).toEqual([
      { ...good, specversion: '1.0', time: now, data: null, datacontenttype: null, dataschema: null },
    ]);
  });
  it('names every bad index and field of a batch and returns no events', () => {
    const { events, errors } = validateEvents(
      [good, { ...good, id: '' }, good, { source: 's' }],
      'batch',
      now,
    );
    expect(events).toEqual([]);
    expect(errors.map((e) => [e.field, e.index])).toEqual([
      ['body[1].id', 1],
      ['body[3].id', 3],
      ['body[3].type', 3],
      ['body[3].subject', 3],
    ]);
  });
  it('enforces the content type shape', () => {
    expect(validateEvents([good], 'single', now).errors).toHaveLength(1);
    expect(validateEvents(good, 'batch', now).errors).toHaveLength(1);
    expect(validateEvents([good], 'either', now).errors).toHaveLength(0);
  });
});
