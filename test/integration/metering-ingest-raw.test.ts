/**
 * Batches are stored from the request's own JSON text (see src/metering/ingest.ts): what is stored must be
 * exactly what validation saw, whatever the bytes, and the re-serializing fallback must agree with it.
 */
import { createTestApp, type TestApp } from '../support/app';

const BATCH = 'application/cloudevents-batch+json';

const ev = (id: string, over: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id,
  source: 'raw-src',
  type: 'api_call',
  subject: 'sub-raw',
  time: '2026-01-01T00:00:00Z',
  data: { n: 1 },
  ...over,
});

interface Row {
  id: string;
  source: string;
  subject: string;
  type: string;
  time: string;
  specversion: string;
  datacontenttype: string | null;
  data_text: string | null;
  seq: string;
  time_is_ingested_at: boolean;
}

describe('metering events: batches stored from the raw request body', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  // a Buffer is sent as its bytes (superagent would JSON-encode it for a JSON content type)
  const post = (body: string | Buffer, contentType = BATCH) =>
    app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', contentType)
      .serialize((b: unknown) => b as string)
      .send(body);

  async function rows(where: string, params: unknown[] = []): Promise<Row[]> {
    return app.db.orm.em.getConnection().execute<Row[]>(
      `select id, source, subject, type, to_char(time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as time,
         specversion, datacontenttype, data::text as data_text, seq::text as seq,
         time = ingested_at as time_is_ingested_at
       from events where ${where} order by events.seq`,
      params,
    );
  }

  /** the jsonb text PostgreSQL itself makes of `json` (a canonical form to compare with) */
  async function jsonbText(json: string): Promise<string> {
    const [r] = await app.db.orm.em
      .getConnection()
      .execute<{ t: string }[]>('select (?::jsonb)::text as t', [json]);
    return r.t;
  }

  it('stores quotes, backslashes, control escapes and unicode (literal and escaped) exactly', async () => {
    // written by hand: escapes that JSON.stringify would never produce, and literal non-ASCII characters
    const body = `[
      {"specversion":"1.0","id":"q\\"uote\\\\d","source":"raw-src","type":"api_call","subject":"sub-\\u00e9\\ud83d\\ude00",
       "time":"2026-01-01T00:00:00Z","data":{"s":"tab\\there\\nline\\r\\"q\\" \\\\ back \\/ slash","lit":"é日本😀",
       "esc":"\\u00e9\\u65e5\\ud83d\\ude00","notnul":"\\\\u0000"}},
      {"specversion":"1.0","id":"plain-é","source":"raw-src","type":"api_call","subject":"sub-raw",
       "time":"2026-01-01T00:00:01Z","data":{"nested":{"a":[1,2,{"b":null}],"t":true},"empty":{}}}
    ]`;
    const res = await post(Buffer.from(body, 'utf8'));
    expect(res.status).toBe(202);
    const stored = await rows(`source = 'raw-src' and id in ('q"uote\\d', 'plain-é')`);
    expect(stored.map((r) => [r.id, r.subject])).toEqual([
      ['q"uote\\d', 'sub-é😀'],
      ['plain-é', 'sub-raw'],
    ]);
    const parsed = JSON.parse(body) as { data: unknown }[];
    expect(JSON.parse(stored[0].data_text!)).toEqual(parsed[0].data);
    expect((JSON.parse(stored[0].data_text!) as { notnul: string }).notnul).toBe('\\u0000');
    expect(JSON.parse(stored[1].data_text!)).toEqual(parsed[1].data);
  });

  it('keeps numbers exactly as sent (no float rounding of big or precise values)', async () => {
    const body =
      '[{"id":"num-1","source":"raw-src","type":"api_call","subject":"sub-raw","time":"2026-01-01T00:00:00Z",' +
      '"data":{"big":123456789012345678901234567890,"dec":0.1000000000000000055511151231257827,"neg":-1e-7}}]';
    expect((await post(body)).status).toBe(202);
    const [r] = await rows(`id = 'num-1'`);
    expect(r.data_text).toBe(
      await jsonbText(
        '{"big":123456789012345678901234567890,"dec":0.1000000000000000055511151231257827,"neg":-1e-7}',
      ),
    );
  });

  it('applies the defaults in a batch: time = receipt time, specversion 1.0, data and optional fields null', async () => {
    const body = JSON.stringify([
      { id: 'def-1', source: 'raw-src', type: 'api_call', subject: 'sub-raw' },
      {
        id: 'def-2',
        source: 'raw-src',
        type: 'api_call',
        subject: 'sub-raw',
        time: null,
        specversion: null,
        data: null,
      },
      {
        id: 'def-3',
        source: 'raw-src',
        type: 'api_call',
        subject: 'sub-raw',
        datacontenttype: 'application/json',
      },
    ]);
    expect((await post(body)).status).toBe(202);
    const stored = await rows(`id like 'def-%'`);
    expect(
      stored.map((r) => [r.id, r.specversion, r.data_text, r.datacontenttype, r.time_is_ingested_at]),
    ).toEqual([
      ['def-1', '1.0', null, null, true],
      ['def-2', '1.0', null, null, true],
      ['def-3', '1.0', null, 'application/json', true],
    ]);
  });

  it('takes the last of repeated keys, as validation does', async () => {
    // validation sees the last "id"/"data" (JSON.parse); the stored row must be that same event
    const body =
      '[{"id":"dupkey-first","id":"dupkey-last","source":"raw-src","type":"api_call","subject":"sub-raw",' +
      '"time":"2026-01-01T00:00:00Z","data":{"v":1},"data":{"v":2}}]';
    expect((await post(body)).status).toBe(202);
    const stored = await rows(`id like 'dupkey-%'`);
    expect(stored.map((r) => [r.id, JSON.parse(r.data_text!)])).toEqual([['dupkey-last', { v: 2 }]]);
    // and a repeated key whose last value is invalid is rejected, not stored from the first
    const bad =
      '[{"id":"dupkey-bad","source":"raw-src","type":"api_call","subject":"sub-raw","subject":42,' +
      '"time":"2026-01-01T00:00:00Z"}]';
    const res = await post(bad);
    expect(res.status).toBe(400);
    expect(res.body.invalid_parameters).toEqual([
      { field: 'body[0].subject', reason: 'must be a string', rule: 'invalid', source: 'body' },
    ]);
    expect(await rows(`id = 'dupkey-bad'`)).toEqual([]);
  });

  it('rejects U+0000 escaped anywhere in a batch, naming the event, and stores nothing', async () => {
    const body = `[${JSON.stringify(ev('nul-ok'))},${JSON.stringify(ev('nul-bad', { data: { s: 'a\u0000b' } }))}]`;
    expect(body).toContain('\\u0000');
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.invalid_parameters).toEqual([
      { field: 'body[1].data.s', reason: 'must not contain NUL characters', rule: 'invalid', source: 'body' },
    ]);
    const key = `[${JSON.stringify(ev('nul-key', { subject: 'x\u0000' }))}]`;
    expect((await post(key)).body.invalid_parameters).toEqual([
      {
        field: 'body[0].subject',
        reason: 'must not contain NUL characters',
        rule: 'invalid',
        source: 'body',
      },
    ]);
    expect(await rows(`id like 'nul-%'`)).toEqual([]);
  });

  it('rejects unpaired UTF-16 surrogate escapes (PostgreSQL cannot store them) with the index, not a 500', async () => {
    const head = '{"source":"raw-src","type":"api_call","time":"2026-01-01T00:00:00Z"';
    const body =
      `[${head},"id":"sur-ok","subject":"s-\\ud83d\\ude00","data":{"k":"\\uD83D\\uDE00"}},` +
      `${head},"id":"sur-data","subject":"sub-raw","data":{"deep":[{"x":"a\\udc00"}]}},` +
      `${head},"id":"sur-subject","subject":"s-\\uD800","data":null},` +
      `${head},"id":"sur-key","subject":"sub-raw","data":{"\\ud800":1}}]`;
    const res = await post(body);
    expect(res.status).toBe(400);
    const reason = 'must not contain unpaired UTF-16 surrogates';
    expect(res.body.invalid_parameters).toEqual([
      { field: 'body[1].data.deep[0].x', reason, rule: 'invalid', source: 'body' },
      { field: 'body[2].subject', reason, rule: 'invalid', source: 'body' },
      {
        field: 'body[3].data["\\ud800"]',
        reason: `property name ${reason}`,
        rule: 'invalid',
        source: 'body',
      },
    ]);
    expect(await rows(`id like 'sur-%'`)).toEqual([]);
    // the valid pair alone is stored, as the character it encodes
    expect((await post(`[${body.slice(1, body.indexOf('},{') + 1)}]`)).status).toBe(202);
    const [r] = await rows(`id = 'sur-ok'`);
    expect([r.subject, JSON.parse(r.data_text!)]).toEqual(['s-😀', { k: '😀' }]);
  });

  it('extension attributes: U+0000 and lone surrogates are refused at the edge (issue 9.7); a huge number is dropped with the attribute and data stays exact', async () => {
    const head =
      '{"specversion":"1.0","source":"raw-src","type":"api_call","subject":"sub-raw","time":"2026-01-01T00:00:00Z"';
    for (const [id, ext, status] of [
      ['ext-nul', '"\\u0000"', 400],
      ['ext-surrogate', '"\\ud800"', 400],
      ['ext-huge', '1e200000', 202],
    ] as const) {
      const body = `[${head},"id":"${id}","myext":${ext},"data":{"n":7,"exact":9007199254740993}}]`;
      const res = await post(body);
      expect([id, res.status]).toEqual([id, status]);
      if (status === 400)
        expect(res.body.invalid_parameters[0]).toMatchObject({ field: 'body[0].myext', source: 'body' });
    }
    const stored = await rows(`id like 'ext-%'`);
    // rebuilt from the validated fields and data's own text: the number is still exact
    expect(stored.map((r) => [r.id, r.data_text])).toEqual([
      ['ext-huge', '{"n": 7, "exact": 9007199254740993}'],
    ]);
  });

  it('stores a body with a UTF-8 byte order mark, and one in UTF-16 (re-serialized), identically', async () => {
    const bom = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(JSON.stringify([ev('bom-é', { data: { s: 'é😀' } })]), 'utf8'),
    ]);
    expect((await post(bom)).status).toBe(202);
    const utf16 = Buffer.from(JSON.stringify([ev('u16-é', { data: { s: 'é😀' } })]), 'utf16le');
    expect((await post(utf16, `${BATCH}; charset=utf-16le`)).status).toBe(202);
    const stored = await rows(`id in ('bom-é', 'u16-é')`);
    expect(stored.map((r) => [r.id, JSON.parse(r.data_text!)])).toEqual([
      ['bom-é', { s: 'é😀' }],
      ['u16-é', { s: 'é😀' }],
    ]);
  });

  it('stores invalid UTF-8 as the parser decoded it (replacement character), not as a server error', async () => {
    const head = Buffer.from(
      '[{"id":"badutf8","source":"raw-src","type":"api_call","subject":"sub-raw","data":{"s":"a',
      'utf8',
    );
    const body = Buffer.concat([head, Buffer.from([0xff]), Buffer.from('b"}}]', 'utf8')]);
    expect((await post(body)).status).toBe(202);
    const [r] = await rows(`id = 'badutf8'`);
    expect(JSON.parse(r.data_text!)).toEqual({ s: 'a\ufffdb' });
  });

  it('draws seq in batch order over a large batch with resends inside it, keeping each first occurrence', async () => {
    const n = 5000;
    // ids in a shuffled (non-sorted) order, every 10th event a resend of an earlier one with other data
    const ids = Array.from({ length: n }, (_, i) => `seq-${(i * 7919) % n}`);
    const batch = ids.map((id, i) => ev(id, { data: { pos: i } }));
    for (let i = 10; i < n; i += 10) batch.splice(i, 0, ev(ids[i >> 1], { data: { pos: -i } }));
    expect((await post(JSON.stringify(batch))).status).toBe(202);
    const stored = await rows(`id like 'seq-%'`);
    expect(stored.map((r) => r.id)).toEqual(ids);
    expect(stored.map((r) => (JSON.parse(r.data_text!) as { pos: number }).pos)).toEqual(
      ids.map((_, i) => i),
    );
  });

  it('concurrent HTTP batches sharing ids in different orders all succeed, each id stored once', async () => {
    const n = 4000;
    const all = Array.from({ length: n }, (_, i) => ev(`ovl-${i}`, { data: { i } }));
    const half = all.slice(n / 2);
    const bodies = [all, [...all].reverse(), [...half, ...all.slice(0, n / 2)], [...half].reverse(), all];
    const results = await Promise.all(bodies.map((b) => post(JSON.stringify(b))));
    expect(results.map((r) => r.status)).toEqual(bodies.map(() => 202));
    const [c] = await app.db.orm.em.getConnection().execute<{ n: string; ids: string; sum: string }[]>(
      `select count(*)::text as n, count(distinct id)::text as ids, sum((data->>'i')::int)::text as sum
           from events where id like 'ovl-%'`,
    );
    expect(c).toEqual({ n: String(n), ids: String(n), sum: String((n * (n - 1)) / 2) });
  });
});
