/** The body fingerprint of Idempotency-Key: canonical JSON (sorted keys), so spellings of one body agree. */
import { canonicalJson } from '../../src/api/idempotency';

describe('canonicalJson', () => {
  it.each([
    [
      { b: 1, a: 2 },
      { a: 2, b: 1 },
    ],
    [{ x: { d: [1, { z: 1, y: 2 }], c: null } }, { x: { c: null, d: [1, { y: 2, z: 1 }] } }],
    [{ a: 1, u: undefined }, { a: 1 }],
    [[], []],
  ])('%j and %j are the same body', (a, b) => {
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it.each([
    [{ a: 1 }, { a: '1' }],
    [
      [1, 2],
      [2, 1],
    ],
    [{ a: null }, {}],
    [null, {}],
    [{ 'a,b': 1 }, { a: 1, b: 1 }],
    ['x', 'y'],
    [{ a: [1] }, { a: 1 }],
  ])('%j and %j are different bodies', (a, b) => {
    expect(canonicalJson(a)).not.toBe(canonicalJson(b));
  });

  it('is JSON', () => {
    const v = { b: [1, 'two', { c: true }], a: 'é"\\' };
    expect(JSON.parse(canonicalJson(v))).toEqual(v);
    expect(canonicalJson(v)).toBe('{"a":"é\\"\\\\","b":[1,"two",{"c":true}]}');
  });
});
