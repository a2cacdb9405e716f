import { API_STATUSES, apiStatus, apiStatusSql, type RowStatus } from '../../src/subscriptions/status';

describe("OpenMeter's subscription statuses from Tally's row", () => {
  const cases: [RowStatus, string | null | undefined, string][] = [
    ['scheduled', undefined, 'scheduled'],
    ['scheduled', 'cancel', 'scheduled'], // created with a future active_from and an active_to
    ['scheduled', 'change', 'scheduled'],
    ['active', undefined, 'active'],
    ['active', null, 'active'],
    ['active', 'change', 'active'],
    ['active', 'migrate', 'active'],
    ['active', 'edit', 'active'],
    ['active', 'cancel', 'canceled'], // running, with an end scheduled
    ['canceled', undefined, 'inactive'], // ended
    ['canceled', 'cancel', 'inactive'],
  ];
  it.each(cases)('row %s with pending %s is %s', (row, pending, api) => {
    expect(apiStatus(row, pending)).toBe(api);
  });

  it('names exactly the statuses OpenMeter documents', () => {
    expect([...API_STATUSES].sort()).toEqual(['active', 'canceled', 'inactive', 'scheduled']);
    const seen = new Set(cases.map(([r, p]) => apiStatus(r, p)));
    expect([...seen].sort()).toEqual([...API_STATUSES].sort());
  });

  it('the SQL form names the alias and every status', () => {
    const sql = apiStatusSql('s');
    expect(sql).toContain("s.status = 'canceled' then 'inactive'");
    expect(sql).toContain("s.pending_change->>'kind' = 'cancel' then 'canceled'");
    for (const st of API_STATUSES) expect(sql).toContain(`'${st}'`);
    expect(apiStatusSql('x')).not.toContain('s.status');
  });
});
