/** The apps' pure rules: Stripe minor units, the sandbox's outcomes, payment events in the lifecycle. */
import { currencyExponent, toMinorUnits } from '../../src/apps/stripe/amounts';
import { sandboxOutcome } from '../../src/apps/sandbox';
import { apply, type LifecycleState, type PaymentResult } from '../../src/billing/lifecycle';
import { maskKey } from '../../src/apps/views';
import { checkoutParams } from '../../src/apps/stripe/sessions';

describe('toMinorUnits', () => {
  it.each([
    ['12.34', 'USD', 1234],
    ['0.3', 'usd', 30],
    ['0.30', 'EUR', 30],
    ['0', 'USD', 0],
    ['-5.5', 'USD', -550],
    ['1200', 'JPY', 1200],
    ['7', 'krw', 7],
    ['1.234', 'KWD', 1234],
    ['0.001', 'BHD', 1],
    ['99999999.99', 'USD', 9999999999],
    ['1e2', 'USD', 10000],
  ])('%s %s → %d', (amount, currency, expected) => {
    expect(toMinorUnits(amount, currency)).toBe(expected);
  });

  it.each([
    ['0.001', 'USD'],
    ['0.5', 'JPY'],
    ['1.2345', 'KWD'],
    ['abc', 'USD'],
    ['1e20', 'USD'],
  ])('refuses %s %s', (amount, currency) => {
    expect(() => toMinorUnits(amount, currency)).toThrow();
  });

  it('knows the exponents', () => {
    expect([currencyExponent('USD'), currencyExponent('jpy'), currencyExponent('TND')]).toEqual([2, 0, 3]);
  });
});

describe('sandboxOutcome', () => {
  it.each([
    [undefined, 'charge_automatically', { status: 'paid' }],
    [undefined, 'send_invoice', { status: 'payment_processing' }],
    ['paid', 'charge_automatically', { status: 'paid' }],
    ['uncollectible', 'charge_automatically', { status: 'uncollectible' }],
    ['uncollectible', 'send_invoice', { status: 'uncollectible' }],
  ] as const)('%s / %s', (target, method, expected) => {
    expect(sandboxOutcome(target, method)).toEqual(expected);
  });

  it.each(['failed', 'action_required'] as const)('%s awaits payment with the issue shown', (target) => {
    const o = sandboxOutcome(target, 'charge_automatically');
    expect(o.status).toBe('payment_processing');
    expect(o.issue?.state).toBe(target);
  });
});

describe('payment events in the lifecycle', () => {
  const st = (status: LifecycleState['status']): LifecycleState => ({
    status,
    failed: false,
    autoAdvance: true,
    collectionMethod: 'charge_automatically',
  });
  const cases: [LifecycleState['status'], PaymentResult, string | null][] = [
    ['payment_processing', 'paid', 'paid'],
    ['overdue', 'paid', 'paid'],
    ['uncollectible', 'paid', 'paid'],
    ['paid', 'paid', null],
    ['voided', 'paid', null],
    ['issued', 'paid', null],
    ['payment_processing', 'failed', 'payment_processing'],
    ['overdue', 'failed', 'overdue'],
    ['paid', 'failed', null],
    ['uncollectible', 'failed', null],
    ['payment_processing', 'uncollectible', 'uncollectible'],
    ['uncollectible', 'uncollectible', null],
    ['paid', 'uncollectible', null],
    ['payment_processing', 'voided', 'voided'],
    ['uncollectible', 'voided', 'voided'],
    ['paid', 'voided', null],
    ['voided', 'voided', null],
    ['draft', 'voided', null],
  ];
  it.each(cases)('%s + %s → %s', (from, result, to) => {
    const r = apply(st(from), { type: 'payment', result });
    if (to === null) expect(r.ok).toBe(false);
    else expect(r).toEqual({ ok: true, state: { ...st(from), status: to } });
  });

  it('hands over as uncollectible', () => {
    expect(apply(st('issued'), { type: 'handed_over', result: 'uncollectible' })).toMatchObject({
      ok: true,
      state: { status: 'uncollectible' },
    });
  });
});

describe('maskKey', () => {
  it.each([
    ['sk_test_abcdefghijkl1234', 'sk_test_***1234'],
    ['rk_live_zzzzzzzzzzWXYZ', 'rk_live_***WXYZ'],
    ['weird', '***eird'],
  ])('%s → %s', (key, masked) => {
    expect(maskKey(key)).toBe(masked);
    expect(maskKey(key)).not.toContain(key.slice(0, -4).slice(8) || '\u0000');
  });
});

describe('checkoutParams (OpenMeter stripe_options → Stripe checkout.sessions.create)', () => {
  const ctx = { stripeCustomerId: 'cus_1', customerId: 'C1', appId: 'A1', currency: 'EUR' };
  const tally = { tally_customer_id: 'C1', tally_app_id: 'A1' };

  it('without options: setup mode, the customer currency, Tally metadata on session and setup intent', () => {
    expect(checkoutParams({}, ctx)).toEqual({
      mode: 'setup',
      customer: 'cus_1',
      currency: 'eur',
      metadata: tally,
      setup_intent_data: { metadata: tally },
    });
    expect(checkoutParams({}, { ...ctx, currency: undefined }).currency).toBe('usd');
  });

  it("renames ui_mode to the pinned API's values and drops payment_method_types", () => {
    expect(checkoutParams({ ui_mode: 'hosted' }, ctx).ui_mode).toBe('hosted_page');
    expect(checkoutParams({ ui_mode: 'embedded' }, ctx).ui_mode).toBe('embedded_page');
    expect(checkoutParams({ payment_method_types: ['card'] }, ctx)).not.toHaveProperty(
      'payment_method_types',
    );
  });

  it("keeps Tally's metadata keys over the caller's and drops empty nested options", () => {
    const p = checkoutParams(
      {
        metadata: { order: 'o-1', tally_app_id: 'forged' },
        consent_collection: { payment_method_reuse_agreement: {} },
        custom_text: { submit: {}, after_submit: { message: 'hi' } },
        customer_update: { name: 'auto' },
        tax_id_collection: { enabled: true },
      },
      ctx,
    );
    expect(p.metadata).toEqual({ order: 'o-1', ...tally });
    expect(p.consent_collection).toEqual({});
    expect(p.custom_text).toEqual({ after_submit: { message: 'hi' } });
    expect(p.customer_update).toEqual({ name: 'auto' });
    expect(p.tax_id_collection).toEqual({ enabled: true });
  });
});
