import { RawJson, stringifyWithRaw } from '../../src/lib/raw-json';

describe('RawJson', () => {
  it('splices stored JSON text into the document, numbers exactly as written', () => {
    const doc = {
      data: [
        { a: new RawJson('{"v": 9007199254740993}'), b: '\\u0000 0 \\u0000' },
        { a: new RawJson('[1e309, 0.1000000000000000055511151231257827]'), b: null },
        { a: null, b: 'x' },
      ],
    };
    expect(stringifyWithRaw(doc)).toBe(
      '{"data":[{"a":{"v": 9007199254740993},"b":"\\\\u0000 0 \\\\u0000"},' +
        '{"a":[1e309, 0.1000000000000000055511151231257827],"b":null},{"a":null,"b":"x"}]}',
    );
  });

  it('outside stringifyWithRaw it serializes as its parsed value', () => {
    expect(JSON.stringify({ a: new RawJson('{"v": 1}') })).toBe('{"a":{"v":1}}');
  });

  it('a document without RawJson is plain JSON.stringify', () => {
    const doc = { a: [1, 'two', { three: 3 }] };
    expect(stringifyWithRaw(doc)).toBe(JSON.stringify(doc));
  });
});
