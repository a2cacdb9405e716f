import type { IngestEvent } from '../../src/metering/events';
import { ingestEvents } from '../../src/metering/service';
import { createTestApp, type TestApp } from '../support/app';

const ev = (i: number) => ({
  specversion: '1.0',
  id: `cc-${i}`,
  source: 'test-src',
  type: 'api_call',
  subject: 'sub-a',
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
  data: { n: i },
});

const toIngest = (e: ReturnType<typeof ev>): IngestEvent => ({
  ...e,
  datacontenttype: null,
  dataschema: null,
});

describe('metering events: concurrent batches sharing ids', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('in-flight batches sharing ids in different orders all succeed (no deadlock), each id stored once', async () => {
    const n = 3000;
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      const batch = Array.from({ length: n }, (_, i) => toIngest(ev(round * n + i)));
      const half = batch.slice(n / 2);
      const orders = [batch, [...batch].reverse(), [...half, ...batch.slice(0, n / 2)], [...half].reverse()];
      const stored = await Promise.all(
        orders.map((b) => ingestEvents(app.db.orm.em.fork(), b, new Date('2026-01-02T00:00:00Z'))),
      );
      expect(stored.reduce((a, x) => a + x, 0)).toBe(n);
    }
    const [row] = await app.db.orm.em
      .getConnection()
      .execute<{ n: string; ids: string }[]>(
        `select count(*)::text as n, count(distinct id)::text as ids from events where id like 'cc-%'`,
      );
    expect(row).toEqual({ n: String(rounds * n), ids: String(rounds * n) });
  });

  it('draws seq in the batch order, whatever the ids (latest ties are broken by ingestion order)', async () => {
    const ids = ['z-1', 'a-2', 'm-3'];
    const res = await app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', 'application/cloudevents-batch+json')
      .send(JSON.stringify(ids.map((id, i) => ({ ...ev(i), id }))));
    expect(res.status).toBe(202);
    const rows = await app.db.orm.em
      .getConnection()
      .execute<{ id: string }[]>(`select id from events where id in ('z-1', 'a-2', 'm-3') order by seq`);
    expect(rows.map((r) => r.id)).toEqual(ids);
  });
});
