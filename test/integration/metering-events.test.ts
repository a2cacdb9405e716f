import { createTestApp, type TestApp } from '../support/app';

const ev = (i: number, over: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: `ev-${i}`,
  source: 'test-src',
  type: 'api_call',
  subject: 'sub-a',
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60, 0)).toISOString(),
  data: { n: i },
  ...over,
});

async function count(app: TestApp, where = 'true', params: unknown[] = []): Promise<number> {
  const rows = await app.db.orm.em
    .getConnection()
    .execute<{ n: string }[]>(`select count(*) as n from events where ${where}`, params);
  return Number(rows[0].n);
}

describe('metering events: ingestion', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('accepts one CloudEvent (application/cloudevents+json), answers 202 with an empty body and stores it', async () => {
    const res = await app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', 'application/cloudevents+json')
      .set('Accept', 'application/json')
      .send(JSON.stringify(ev(1, { id: 'single-1', datacontenttype: 'application/json' })));
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    const rows = await app.db.orm.em
      .getConnection()
      .execute<
        { type: string; subject: string; data: unknown; specversion: string; datacontenttype: string }[]
      >(`select * from events where id = 'single-1'`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      type: 'api_call',
      subject: 'sub-a',
      data: { n: 1 },
      specversion: '1.0',
      datacontenttype: 'application/json',
    });
  });

  it('accepts a batch (application/cloudevents-batch+json) and plain application/json (one or array)', async () => {
    const batch = [ev(1, { id: 'b-1' }), ev(2, { id: 'b-2' })];
    const r1 = await app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', 'application/cloudevents-batch+json')
      .send(JSON.stringify(batch));
    expect(r1.status).toBe(202);
    const r2 = await app.api.post('/v3/openmeter/events').send(ev(3, { id: 'j-1' }));
    expect(r2.status).toBe(202);
    const r3 = await app.api.post('/v3/openmeter/events').send([ev(4, { id: 'j-2' }), ev(5, { id: 'j-3' })]);
    expect(r3.status).toBe(202);
    expect(await count(app, `id in ('b-1','b-2','j-1','j-2','j-3')`)).toBe(5);
  });

  it('defaults specversion to 1.0, time to now and data to null', async () => {
    const before = Date.now();
    const res = await app.api
      .post('/v3/openmeter/events')
      .send({ id: 'defaults-1', source: 's', type: 't', subject: 'x' });
    expect(res.status).toBe(202);
    const [row] = await app.db.orm.em
      .getConnection()
      .execute<{ specversion: string; time: string; data: unknown }[]>(
        `select specversion, time, data from events where id = 'defaults-1'`,
      );
    expect(row.specversion).toBe('1.0');
    expect(row.data).toBeNull();
    expect(new Date(row.time).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(new Date(row.time).getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('keeps microsecond precision of event times', async () => {
    await app.api
      .post('/v3/openmeter/events')
      .send(ev(0, { id: 'micro-1', subject: 'micro', time: '2026-03-01T10:00:00.123456+02:00' }))
      .expect(202);
    const res = await app.api.get('/v3/openmeter/events?filter[subject]=micro').expect(200);
    expect(res.body.data[0].event.time).toBe('2026-03-01T08:00:00.123456Z');
  });

  it('stores an event sent twice once', async () => {
    const e = ev(7, { id: 'dup-seq' });
    await app.api.post('/v3/openmeter/events').send(e).expect(202);
    await app.api
      .post('/v3/openmeter/events')
      .send({ ...e, data: { n: 999 } })
      .expect(202);
    const rows = await app.db.orm.em
      .getConnection()
      .execute<{ data: { n: number } }[]>(`select data from events where id = 'dup-seq'`);
    expect(rows).toEqual([{ data: { n: 7 } }]);
  });

  it('stores 10 concurrent resends of the same event once', async () => {
    const e = ev(8, { id: 'dup-conc' });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => app.api.post('/v3/openmeter/events').send(e)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(202));
    expect(await count(app, `id = 'dup-conc'`)).toBe(1);
  });

  it('collapses duplicates inside one batch, keeping the first', async () => {
    const res = await app.api
      .post('/v3/openmeter/events')
      .send([
        ev(1, { id: 'in-batch' }),
        ev(2, { id: 'in-batch' }),
        ev(3, { id: 'in-batch', source: 'other' }),
      ]);
    expect(res.status).toBe(202);
    const rows = await app.db.orm.em
      .getConnection()
      .execute<{ source: string; data: { n: number } }[]>(
        `select source, data from events where id = 'in-batch' order by source`,
      );
    expect(rows).toEqual([
      { source: 'other', data: { n: 3 } },
      { source: 'test-src', data: { n: 1 } },
    ]);
  });

  it('rejects a batch with invalid events at indexes 1 and 3 whole, naming each index and field', async () => {
    const batch = [
      ev(0, { id: 'bad-batch-0' }),
      ev(1, { id: 'bad-batch-1', subject: '' }),
      ev(2, { id: 'bad-batch-2' }),
      ev(3, { id: 'bad-batch-3', time: 'yesterday', type: 42 }),
      ev(4, { id: 'bad-batch-4' }),
    ];
    const res = await app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', 'application/cloudevents-batch+json')
      .send(JSON.stringify(batch));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const params = res.body.invalid_parameters as { field: string }[];
    expect(params).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'body[1].subject', source: 'body' }),
        expect.objectContaining({ field: 'body[3].time', source: 'body' }),
        expect.objectContaining({ field: 'body[3].type', source: 'body' }),
      ]),
    );
    expect(new Set(params.map((p) => /^body\[(\d+)\]/.exec(p.field)?.[1]))).toEqual(new Set(['1', '3']));
    expect(await count(app, `id like 'bad-batch-%'`)).toBe(0);
  });

  it.each([
    ['missing id', { id: undefined }, 'body.id'],
    ['empty source', { source: '' }, 'body.source'],
    ['non-string subject', { subject: 5 }, 'body.subject'],
    ['impossible date', { time: '2026-02-30T00:00:00Z' }, 'body.time'],
    ['time without offset', { time: '2026-02-01T00:00:00' }, 'body.time'],
    ['array data', { data: [1, 2] }, 'body.data'],
    ['string data', { data: 'x' }, 'body.data'],
    ['NUL in data', { data: { a: 'x\u0000y' } }, 'body.data.a'],
    ['wrong specversion', { specversion: '0.3' }, 'body.specversion'],
  ])('rejects a single event with %s', async (_name, over, field) => {
    const res = await app.api.post('/v3/openmeter/events').send(ev(1, { id: 'single-bad', ...over }));
    expect(res.status).toBe(400);
    expect(res.body.invalid_parameters).toEqual([expect.objectContaining({ field })]);
    expect(await count(app, `id = 'single-bad'`)).toBe(0);
  });

  it('rejects an array sent as application/cloudevents+json and an empty batch', async () => {
    const r1 = await app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', 'application/cloudevents+json')
      .send(JSON.stringify([ev(1)]));
    expect(r1.status).toBe(400);
    const r2 = await app.api.post('/v3/openmeter/events').send([]);
    expect(r2.status).toBe(400);
  });

  it('answers 415 for a non-JSON content type and 400 for malformed JSON', async () => {
    const r1 = await app.api.post('/v3/openmeter/events').set('Content-Type', 'text/plain').send('hello');
    expect(r1.status).toBe(415);
    expect(r1.headers['content-type']).toMatch(/^application\/problem\+json/);
    const r2 = await app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', 'application/cloudevents+json')
      .send('{"id": ');
    expect(r2.status).toBe(400);
    expect(r2.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers 401 without a token', async () => {
    const res = await app.raw.post('/v3/openmeter/events').send(ev(1, { id: 'noauth' }));
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(await count(app, `id = 'noauth'`)).toBe(0);
  });

  it('accepts a 10,000-event batch in one request', async () => {
    const batch = Array.from({ length: 10_000 }, (_, i) =>
      ev(i, { id: `big-${i}`, subject: `big-sub-${i % 50}`, data: { tokens: i, model: i % 2 ? 'a' : 'b' } }),
    );
    const t0 = Date.now();
    const res = await app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', 'application/cloudevents-batch+json')
      .send(JSON.stringify(batch));
    const ms = Date.now() - t0;
    expect(res.status).toBe(202);
    expect(await count(app, `id like 'big-%'`)).toBe(10_000);
    console.log(`10,000-event batch ingested in ${ms} ms`);
  });
});

describe('metering events: body limit', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ config: { TALLY_BODY_LIMIT: '1kb' } });
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers 413 problem+json for a body over TALLY_BODY_LIMIT and stores nothing', async () => {
    const batch = Array.from({ length: 30 }, (_, i) => ev(i, { id: `limit-${i}` }));
    const res = await app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', 'application/cloudevents-batch+json')
      .send(JSON.stringify(batch));
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(await count(app)).toBe(0);
    // a small one still fits
    await app.api
      .post('/v3/openmeter/events')
      .send(ev(1, { id: 'limit-small' }))
      .expect(202);
    expect(await count(app)).toBe(1);
  });
});

describe('metering events: listing', () => {
  let app: TestApp;
  let acme: string;
  const t = (min: number) => new Date(Date.UTC(2026, 4, 1, 0, min)).toISOString();
  beforeAll(async () => {
    app = await createTestApp();
    const c = await app.api
      .post('/v3/openmeter/customers')
      .send({ name: 'Acme', key: 'acme', usage_attribution: { subject_keys: ['acme-2'] } });
    expect(c.status).toBe(201);
    acme = c.body.id;
    // 30 events, several sharing a timestamp, across three subjects and two types
    const events = Array.from({ length: 30 }, (_, i) => ({
      id: `l-${String(i).padStart(2, '0')}`,
      source: i % 4 === 0 ? 'src-b' : 'src-a',
      type: i % 3 === 0 ? 'read' : 'write',
      subject: ['acme', 'acme-2', 'other'][i % 3],
      time: t(Math.floor(i / 3)),
      data: { i },
    }));
    await app.api.post('/v3/openmeter/events').send(events).expect(202);
  });
  afterAll(async () => {
    await app.close();
  });

  it('lists newest first with the v3 shape, attributing customers', async () => {
    const res = await app.api.get('/v3/openmeter/events?page[size]=3').expect(200);
    expect(res.body.data).toHaveLength(3);
    const first = res.body.data[0];
    expect(first.event.time).toBe(t(9));
    expect(Object.keys(first).sort()).toEqual(expect.arrayContaining(['event', 'ingested_at', 'stored_at']));
    expect(first.event).toMatchObject({ specversion: '1.0', data: { i: expect.any(Number) } });
    for (const row of res.body.data) {
      if (row.event.subject === 'other') expect(row.customer).toBeUndefined();
      else expect(row.customer).toEqual({ id: acme });
    }
    expect(res.body.meta.page).toMatchObject({ size: 3, previous: null });
    expect(typeof res.body.meta.page.next).toBe('string');
  });

  it('walks every page with the cursor, in time-descending order, without gaps or repeats', async () => {
    const seen: { id: string; time: string }[] = [];
    let url = '/v3/openmeter/events?page[size]=7';
    for (let guard = 0; guard < 10; guard++) {
      const res = await app.api.get(url).expect(200);
      seen.push(...res.body.data.map((r: { event: { id: string; time: string } }) => r.event));
      const next = res.body.meta.page.next as string | null;
      if (!next) break;
      url = `/v3/openmeter/events?page[size]=7&page[after]=${encodeURIComponent(next)}`;
    }
    expect(seen).toHaveLength(30);
    expect(new Set(seen.map((e) => e.id)).size).toBe(30);
    const times = seen.map((e) => Date.parse(e.time));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  /** every page forwards (page[after]), then back from the last one (page[before]): the same pages */
  async function walkBothWays(base: string) {
    const ids = (res: { body: { data: { event: { id: string } }[] } }) =>
      res.body.data.map((r) => r.event.id);
    const forwards: string[][] = [];
    const previous: (string | null)[] = [];
    let url = base;
    for (let guard = 0; guard < 30; guard++) {
      const res = await app.api.get(url).expect(200);
      forwards.push(ids(res));
      previous.push(res.body.meta.page.previous);
      const next = res.body.meta.page.next as string | null;
      if (!next) break;
      url = `${base}&page[after]=${encodeURIComponent(next)}`;
    }
    // the first page has no previous one; every later page has
    expect(previous[0]).toBeNull();
    expect(previous.slice(1).every((p) => typeof p === 'string')).toBe(true);
    const backwards: string[][] = [forwards[forwards.length - 1]];
    let before = previous[previous.length - 1];
    for (let guard = 0; before && guard < 30; guard++) {
      const res = await app.api.get(`${base}&page[before]=${encodeURIComponent(before)}`).expect(200);
      backwards.unshift(ids(res));
      // going back, there is always a next page (the one we came from)
      expect(typeof res.body.meta.page.next).toBe('string');
      before = res.body.meta.page.previous;
    }
    expect(backwards).toEqual(forwards);
    return forwards.flat();
  }

  it('walks back with page[before] and meta.page.previous, in each order and on the customer path', async () => {
    expect(await walkBothWays('/v3/openmeter/events?page[size]=7')).toHaveLength(30);
    expect(
      await walkBothWays('/v3/openmeter/events?page[size]=4&sort=time%20asc&filter[source]=src-a'),
    ).toHaveLength((await listed('filter[source]=src-a')).length);
    const mine = await listed(`filter[customer_id]=${acme}`);
    expect(await walkBothWays(`/v3/openmeter/events?page[size]=3&filter[customer_id]=${acme}`)).toEqual(
      mine.map((e) => e.id),
    );
    expect(
      await walkBothWays(`/v3/openmeter/events?page[size]=3&sort=time+asc&filter[customer_id]=${acme}`),
    ).toEqual(mine.map((e) => e.id).reverse());
    // a cursor in one parameter works in the other: the page after a page[before] page's next is that page
    const p1 = await app.api.get('/v3/openmeter/events?page[size]=5').expect(200);
    const p2 = await app.api
      .get(`/v3/openmeter/events?page[size]=5&page[after]=${encodeURIComponent(p1.body.meta.page.next)}`)
      .expect(200);
    const back = await app.api
      .get(`/v3/openmeter/events?page[size]=5&page[before]=${encodeURIComponent(p2.body.meta.page.previous)}`)
      .expect(200);
    expect(back.body.data).toEqual(p1.body.data);
    expect(back.body.meta.page.previous).toBeNull();
  });

  it('filters by subject, type, customer_id and time range', async () => {
    const ids = async (qs: string) =>
      (
        (await app.api.get(`/v3/openmeter/events?page[size]=1000&${qs}`).expect(200)).body.data as {
          event: { id: string; subject: string; type: string; time: string };
        }[]
      ).map((r) => r.event);
    const other = await ids('filter[subject]=other');
    expect(other).toHaveLength(10);
    expect(other.every((e) => e.subject === 'other')).toBe(true);
    const reads = await ids('filter[type][eq]=read');
    expect(reads).toHaveLength(10);
    expect(reads.every((e) => e.type === 'read')).toBe(true);
    const acmes = await ids(`filter[customer_id]=${acme}`);
    expect(acmes).toHaveLength(20);
    expect(acmes.every((e) => e.subject === 'acme' || e.subject === 'acme-2')).toBe(true);
    const range = await ids(`filter[time][gte]=${t(2)}&filter[time][lt]=${t(4)}`);
    expect(range.map((e) => e.id).sort()).toEqual(['l-06', 'l-07', 'l-08', 'l-09', 'l-10', 'l-11']);
    const gtLte = await ids(`filter[time][gt]=${t(2)}&filter[time][lte]=${t(4)}`);
    expect(gtLte.map((e) => e.id).sort()).toEqual(['l-09', 'l-10', 'l-11', 'l-12', 'l-13', 'l-14']);
    const combined = await ids(`filter[subject]=acme&filter[type]=read&filter[time][lt]=${t(3)}`);
    expect(combined.map((e) => e.id).sort()).toEqual(['l-00', 'l-03', 'l-06']);
  });

  const listed = async (qs: string) =>
    (
      (await app.api.get(`/v3/openmeter/events?page[size]=1000&${qs}`).expect(200)).body.data as {
        event: { id: string; subject: string; source: string; type: string; time: string };
        customer?: { id: string };
        ingested_at: string;
      }[]
    ).map((r) => r.event);

  it("takes OpenMeter's string filter operators on id, source, subject and type", async () => {
    const notOther = await listed('filter[subject][neq]=other');
    expect(notOther).toHaveLength(20);
    expect(notOther.every((e) => e.subject !== 'other')).toBe(true);
    const acmeLike = await listed('filter[subject][contains]=ACME');
    expect(acmeLike).toHaveLength(20);
    const two = await listed('filter[id][oeq]=l-01,l-02');
    expect(two.map((e) => e.id).sort()).toEqual(['l-01', 'l-02']);
    const srcB = await listed('filter[source][eq]=src-b&filter[type][neq]=read');
    expect(srcB.map((e) => e.id).sort()).toEqual(['l-04', 'l-08', 'l-16', 'l-20', 'l-28']);
    const gt = await listed('filter[id][gte]=l-27');
    expect(gt.map((e) => e.id).sort()).toEqual(['l-27', 'l-28', 'l-29']);
    // with a customer filter, a subject operator other than eq still applies
    const acmeNot2 = await listed(`filter[customer_id]=${acme}&filter[subject][neq]=acme-2`);
    expect(acmeNot2).toHaveLength(10);
    expect(acmeNot2.every((e) => e.subject === 'acme')).toBe(true);
  });

  it('filters by customer_id [eq] and [oeq] (any of several customers), refuses [neq]', async () => {
    const eq = await listed(`filter[customer_id][eq]=${acme}`);
    expect(eq).toHaveLength(20);
    const c = await app.api
      .post('/v3/openmeter/customers')
      .send({ name: 'Other', key: 'other-cust', usage_attribution: { subject_keys: ['other'] } });
    expect(c.status).toBe(201);
    const res = await app.api
      .get(`/v3/openmeter/events?page[size]=1000&filter[customer_id][oeq]=${acme},${c.body.id}`)
      .expect(200);
    expect(res.body.data).toHaveLength(30);
    for (const row of res.body.data as { event: { subject: string }; customer: { id: string } }[])
      expect(row.customer.id).toBe(row.event.subject === 'other' ? c.body.id : acme);
    const only = await listed(`filter[customer_id][oeq]=${c.body.id}`);
    expect(only).toHaveLength(10);
    const neq = await app.api.get(`/v3/openmeter/events?filter[customer_id][neq]=${acme}`);
    expect(neq.status).toBe(400);
    expect(neq.body.invalid_parameters).toEqual([
      expect.objectContaining({ field: 'query.filter[customer_id]' }),
    ]);
  });

  it('filters by ingested_at and stored_at', async () => {
    const all = await app.api.get('/v3/openmeter/events?page[size]=1').expect(200);
    const at = all.body.data[0].ingested_at as string;
    const storedAt = all.body.data[0].stored_at as string;
    expect(await listed(`filter[ingested_at][lte]=${at}`)).toHaveLength(30);
    expect(await listed(`filter[ingested_at][gt]=${at}`)).toHaveLength(0);
    expect(await listed(`filter[stored_at][gte]=2026-01-01T00:00:00Z`)).toHaveLength(30);
    expect(await listed(`filter[stored_at][lt]=2026-01-01T00:00:00Z`)).toHaveLength(0);
    await app.api
      .post('/v3/openmeter/events')
      .send([{ id: 'late-1', source: 'src-late', type: 'write', subject: 'nobody', time: t(0) }])
      .expect(202);
    // received after the first batch: only it is past that batch's instant
    expect((await listed(`filter[ingested_at][gt]=${at}`)).map((e) => e.id)).toEqual(['late-1']);
    expect((await listed(`filter[stored_at][gt]=${storedAt}`)).map((e) => e.id)).toEqual(['late-1']);
    expect(await listed(`filter[stored_at][lte]=${storedAt}`)).toHaveLength(30);
    expect(await listed(`filter[ingested_at]=${at}`)).toHaveLength(30);
  });

  it('sorts by time ascending with sort=time asc, and walks its pages', async () => {
    const seen: { id: string; time: string }[] = [];
    let url = '/v3/openmeter/events?page[size]=4&sort=time%20asc&filter[source]=src-a';
    for (let guard = 0; guard < 20; guard++) {
      const res = await app.api.get(url).expect(200);
      seen.push(...res.body.data.map((r: { event: { id: string; time: string } }) => r.event));
      const next = res.body.meta.page.next as string | null;
      if (!next) break;
      url = `/v3/openmeter/events?page[size]=4&sort=time%20asc&filter[source]=src-a&page[after]=${encodeURIComponent(next)}`;
    }
    const desc = await listed('filter[source]=src-a');
    expect(seen.map((e) => e.id)).toEqual(desc.map((e) => e.id).reverse());
    // bare `time` sorts descending, as OpenMeter
    expect((await listed('sort=time&filter[source]=src-a')).map((e) => e.id)).toEqual(desc.map((e) => e.id));
    expect((await listed('sort=time%20desc&filter[source]=src-a')).map((e) => e.id)).toEqual(
      desc.map((e) => e.id),
    );
    // the customer path (per-window scans) in both directions
    const mine = await listed(`filter[customer_id]=${acme}`);
    const mineAsc: string[] = [];
    url = `/v3/openmeter/events?page[size]=3&sort=time+asc&filter[customer_id]=${acme}`;
    for (let guard = 0; guard < 20; guard++) {
      const res = await app.api.get(url).expect(200);
      mineAsc.push(...res.body.data.map((r: { event: { id: string } }) => r.event.id));
      const next = res.body.meta.page.next as string | null;
      if (!next) break;
      url = `/v3/openmeter/events?page[size]=3&sort=time+asc&filter[customer_id]=${acme}&page[after]=${encodeURIComponent(next)}`;
    }
    expect(mineAsc).toEqual(mine.map((e) => e.id).reverse());
  });

  it('refuses, naming them, bad cursors, unsupported sorts and unknown parameters', async () => {
    const cases: [string, string][] = [
      ['page[before]=abc', 'query.page[before]'],
      ['page[after]=abc', 'query.page[after]'],
      [
        `page[after]=${encodeURIComponent('W10')}&page[before]=${encodeURIComponent('W10')}`,
        'query.page[before]',
      ],
      ['sort=ingested_at', 'query.sort'],
      ['sort=stored_at%20asc', 'query.sort'],
      ['sort=subject', 'query.sort'],
      ['foo=1', 'query.foo'],
      ['page[number]=2', 'query.page[number]'],
      ['filter[data]=x', 'query.filter[data]'],
      ['filter[subject][like]=x', 'query.filter[subject][like]'],
    ];
    for (const [qs, field] of cases) {
      const res = await app.api.get(`/v3/openmeter/events?${qs}`);
      expect({ qs, status: res.status }).toEqual({ qs, status: 400 });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.invalid_parameters).toEqual(
        expect.arrayContaining([expect.objectContaining({ field, source: 'query' })]),
      );
    }
  });

  it('rejects a bad cursor, page size or time filter with 400', async () => {
    for (const qs of [
      'page[after]=garbage',
      'page[size]=0',
      'page[size]=1001',
      'filter[time][gte]=yesterday',
    ]) {
      const res = await app.api.get(`/v3/openmeter/events?${qs}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});
