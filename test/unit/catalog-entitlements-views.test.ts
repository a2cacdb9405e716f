/** 10.3 Views of catalog and entitlements: rows → API shapes, instants in UTC with milliseconds. */
import { featureView, planView, type FeatureRow, type PlanRow } from '../../src/catalog/views';
import type { AccessEntry } from '../../src/entitlements/evaluate';
import { accessQueryView, customerAccessView, featureAccessView } from '../../src/entitlements/views';

const featureRow = (over: Partial<FeatureRow> = {}): FeatureRow => ({
  id: '01JFEATURE0000000000000000',
  key: 'tokens',
  name: 'Tokens',
  description: null,
  labels: null,
  meter_id: null,
  meter_filters: null,
  created_at: new Date('2026-01-02T03:04:05.678Z'),
  updated_at: new Date('2026-01-02T03:04:05.678Z'),
  deleted_at: null,
  ...over,
});

describe('featureView', () => {
  it('leaves absent optional fields out', () => {
    expect(featureView(featureRow())).toEqual({
      id: '01JFEATURE0000000000000000',
      key: 'tokens',
      name: 'Tokens',
      created_at: '2026-01-02T03:04:05.678Z',
      updated_at: '2026-01-02T03:04:05.678Z',
    });
  });

  it('shows the meter with its filters, labels, description and deletion', () => {
    expect(
      featureView(
        featureRow({
          description: 'd',
          labels: { a: 'b' },
          meter_id: '01JMETER00000000000000000A',
          meter_filters: { model: { eq: 'gpt' } },
          deleted_at: new Date('2026-02-01T00:00:00Z'),
        }),
      ),
    ).toMatchObject({
      description: 'd',
      labels: { a: 'b' },
      meter: { id: '01JMETER00000000000000000A', filters: { model: { eq: 'gpt' } } },
      deleted_at: '2026-02-01T00:00:00.000Z',
    });
    expect(featureView(featureRow({ meter_id: 'M' })).meter).toEqual({ id: 'M' });
  });

  it('prints instants in UTC with milliseconds, whatever the input precision or offset', () => {
    const v = featureView(
      featureRow({ created_at: '2026-01-02T04:04:05.678912+01:00', updated_at: '2026-01-02T03:04:05Z' }),
    );
    expect(v.created_at).toBe('2026-01-02T03:04:05.678Z');
    expect(v.updated_at).toBe('2026-01-02T03:04:05.000Z');
  });
});

describe('planView', () => {
  const row: PlanRow = {
    id: '01JPLAN0000000000000000000',
    key: 'pro',
    version: '3',
    status: 'active',
    name: 'Pro',
    description: null,
    labels: null,
    currency: 'USD',
    billing_cadence: 'P1M',
    pro_rating_enabled: false,
    phases: [{ key: 'default', name: 'Default', rate_cards: [] }],
    effective_from: new Date('2026-01-01T00:00:00.5Z'),
    effective_to: null,
    created_at: new Date('2026-01-01T00:00:00Z'),
    updated_at: new Date('2026-01-01T00:00:00.5Z'),
    deleted_at: null,
  };

  it('maps a row: numeric version, phases as stored, effective_to absent while active', () => {
    expect(planView(row)).toEqual({
      id: '01JPLAN0000000000000000000',
      key: 'pro',
      version: 3,
      status: 'active',
      name: 'Pro',
      currency: 'USD',
      billing_cadence: 'P1M',
      pro_rating_enabled: false,
      effective_from: '2026-01-01T00:00:00.500Z',
      phases: [{ key: 'default', name: 'Default', rate_cards: [] }],
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:00:00.500Z',
    });
  });

  it('trims a padded currency and shows effective_to once archived', () => {
    const v = planView({ ...row, currency: 'EU ', status: 'archived', effective_to: '2026-02-01T00:00:00Z' });
    expect(v.currency).toBe('EU');
    expect(v.effective_to).toBe('2026-02-01T00:00:00.000Z');
  });
});

describe('entitlement access views', () => {
  const metered: AccessEntry = {
    feature_key: 'api-calls',
    type: 'metered',
    has_access: false,
    is_soft_limit: false,
    limit: '100',
    usage: '120',
    balance: '0',
    overage: '20',
    usage_period: 'P1M',
    current_usage_period: { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' },
  };
  const sso: AccessEntry = { feature_key: 'sso', type: 'boolean', has_access: true };

  it('customer access is the entries as data', () => {
    expect(customerAccessView([sso])).toEqual({ data: [sso] });
  });

  it('a denied metered feature says why; others carry no reason', () => {
    expect(featureAccessView(metered)).toEqual({
      has_access: false,
      type: 'metered',
      limit: '100',
      usage: '120',
      balance: '0',
      reason: {
        code: 'usage_limit_reached',
        message:
          'usage 120 has reached the limit 100 for the usage period 2026-01-01T00:00:00.000Z – 2026-02-01T00:00:00.000Z',
      },
    });
    expect(featureAccessView({ ...metered, has_access: true })).not.toHaveProperty('reason');
    expect(featureAccessView(sso)).toEqual({ has_access: true, type: 'boolean' });
  });

  it('the query answer: requested features not in the plan, unknown keys as errors (each once)', () => {
    const now = new Date('2026-01-15T12:00:00.123Z');
    const answer = accessQueryView(
      [
        {
          id: 'C1',
          key: 'acme',
          name: 'ACME',
          created_at: new Date('2025-12-01T08:00:00.5Z'),
          updated_at: new Date('2026-01-02T09:30:00Z'),
          matched: ['acme', 'gw-1'],
          entries: [sso],
        },
      ],
      ['acme', 'gw-1', 'nobody', 'nobody'],
      ['sso', 'api-calls'],
      now,
    );
    expect(answer).toEqual({
      data: [
        {
          matched: ['acme', 'gw-1'],
          customer: {
            id: 'C1',
            key: 'acme',
            name: 'ACME',
            created_at: '2025-12-01T08:00:00.500Z',
            updated_at: '2026-01-02T09:30:00.000Z',
          },
          features: {
            sso: { has_access: true, type: 'boolean' },
            'api-calls': {
              has_access: false,
              reason: {
                code: 'feature_unavailable',
                message: "feature api-calls is not in the customer's plan",
              },
            },
          },
          updated_at: '2026-01-15T12:00:00.123Z',
        },
      ],
      errors: [
        {
          code: 'customer_not_found',
          message: 'no customer has the key or usage-attribution subject nobody',
          customer: 'nobody',
        },
      ],
      meta: { page: { size: 1, next: null, previous: null } },
    });
  });

  it('without requested features, every entitled feature and nothing else', () => {
    const answer = accessQueryView(
      [
        {
          id: 'C1',
          key: 'acme',
          name: 'ACME',
          created_at: new Date(0),
          updated_at: new Date(0),
          matched: ['acme'],
          entries: [sso, metered],
        },
      ],
      ['acme'],
      undefined,
      new Date(0),
    );
    expect(Object.keys(answer.data[0].features)).toEqual(['sso', 'api-calls']);
    expect(answer.errors).toEqual([]);
  });
});
