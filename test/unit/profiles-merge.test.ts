/** Billing workflow settings: OpenMeter's defaults and a customer's overrides applied to its profile's. */
import {
  applyOverrides,
  compactOverrides,
  fillWorkflow,
  type WorkflowOverrides,
} from '../../src/profiles/merge';
import type { BillingWorkflowSettings } from '../../src/profiles/types';

const anchored = {
  type: 'anchored' as const,
  recurring_period: { anchor: '2026-01-01T00:00:00.000Z', interval: 'P1M' },
};

/** a profile that sends invoices, due after 14 days, with a one-day draft period, no auto-advance */
const sending: BillingWorkflowSettings = {
  collection: { alignment: { type: 'subscription' }, interval: 'PT2H' },
  invoicing: { auto_advance: false, draft_period: 'P1D' },
  payment: { collection_method: 'send_invoice', due_after: 'P14D' },
};

/** the default profile's settings */
const charging: BillingWorkflowSettings = {
  collection: { alignment: { type: 'subscription' }, interval: 'PT1H' },
  invoicing: { auto_advance: true, draft_period: 'P0D' },
  payment: { collection_method: 'charge_automatically' },
};

describe('fillWorkflow: OpenMeter defaults for what a request leaves out', () => {
  it.each<[string, Parameters<typeof fillWorkflow>[0], string | undefined, BillingWorkflowSettings]>([
    ['nothing given', undefined, undefined, charging],
    ['empty object', {}, undefined, charging],
    [
      'the default interval is the one given (the default profile: TALLY_COLLECTION_PERIOD)',
      {},
      'PT5M',
      { ...charging, collection: { alignment: { type: 'subscription' }, interval: 'PT5M' } },
    ],
    [
      'a given interval wins over the default one',
      { collection: { interval: 'P1D' } },
      'PT5M',
      { ...charging, collection: { alignment: { type: 'subscription' }, interval: 'P1D' } },
    ],
    [
      'send_invoice without due_after: P30D',
      { payment: { collection_method: 'send_invoice' } },
      undefined,
      { ...charging, payment: { collection_method: 'send_invoice', due_after: 'P30D' } },
    ],
    [
      'send_invoice with due_after',
      { payment: { collection_method: 'send_invoice', due_after: 'P7D' } },
      undefined,
      { ...charging, payment: { collection_method: 'send_invoice', due_after: 'P7D' } },
    ],
    [
      'only auto_advance: draft_period stays P0D',
      { invoicing: { auto_advance: false } },
      undefined,
      { ...charging, invoicing: { auto_advance: false, draft_period: 'P0D' } },
    ],
    [
      'only draft_period: auto_advance stays true',
      { invoicing: { draft_period: 'P2D' } },
      undefined,
      { ...charging, invoicing: { auto_advance: true, draft_period: 'P2D' } },
    ],
    [
      'anchored alignment keeps the interval default',
      { collection: { alignment: anchored } },
      undefined,
      { ...charging, collection: { alignment: anchored, interval: 'PT1H' } },
    ],
  ])('%s', (_name, input, defaultInterval, expected) => {
    expect(fillWorkflow(input, defaultInterval)).toEqual(expected);
  });
});

describe('applyOverrides: a customer overrides its profile', () => {
  it.each<[string, BillingWorkflowSettings, WorkflowOverrides | null | undefined, BillingWorkflowSettings]>([
    ['no overrides (null)', sending, null, sending],
    ['no overrides (undefined)', sending, undefined, sending],
    ['empty overrides', sending, {}, sending],
    ['empty parts', sending, { collection: {}, invoicing: {} }, sending],
    [
      'interval only',
      sending,
      { collection: { interval: 'PT10M' } },
      { ...sending, collection: { alignment: { type: 'subscription' }, interval: 'PT10M' } },
    ],
    [
      'alignment only: the profile interval stays',
      sending,
      { collection: { alignment: anchored } },
      { ...sending, collection: { alignment: anchored, interval: 'PT2H' } },
    ],
    [
      'back to subscription alignment from an anchored profile',
      { ...sending, collection: { alignment: anchored, interval: 'PT2H' } },
      { collection: { alignment: { type: 'subscription' } } },
      sending,
    ],
    [
      'auto_advance true: the profile draft period stays',
      sending,
      { invoicing: { auto_advance: true } },
      { ...sending, invoicing: { auto_advance: true, draft_period: 'P1D' } },
    ],
    [
      'auto_advance false is kept (a falsy override is still an override)',
      charging,
      { invoicing: { auto_advance: false } },
      { ...charging, invoicing: { auto_advance: false, draft_period: 'P0D' } },
    ],
    [
      'draft_period P0D overrides P1D',
      sending,
      { invoicing: { draft_period: 'P0D' } },
      { ...sending, invoicing: { auto_advance: false, draft_period: 'P0D' } },
    ],
    [
      'charge automatically instead of sending: due_after goes',
      sending,
      { payment: { collection_method: 'charge_automatically' } },
      { ...sending, payment: { collection_method: 'charge_automatically' } },
    ],
    [
      'send_invoice without due_after keeps the profile due_after',
      sending,
      { payment: { collection_method: 'send_invoice' } },
      sending,
    ],
    [
      'send_invoice with its own due_after',
      sending,
      { payment: { collection_method: 'send_invoice', due_after: 'P45D' } },
      { ...sending, payment: { collection_method: 'send_invoice', due_after: 'P45D' } },
    ],
    [
      'send_invoice on a charging profile without due_after: P30D',
      charging,
      { payment: { collection_method: 'send_invoice' } },
      { ...charging, payment: { collection_method: 'send_invoice', due_after: 'P30D' } },
    ],
    [
      'send_invoice on a charging profile with due_after',
      charging,
      { payment: { collection_method: 'send_invoice', due_after: 'P3D' } },
      { ...charging, payment: { collection_method: 'send_invoice', due_after: 'P3D' } },
    ],
    [
      'everything overridden',
      charging,
      {
        collection: { alignment: anchored, interval: 'P1D' },
        invoicing: { auto_advance: false, draft_period: 'P3D' },
        payment: { collection_method: 'send_invoice', due_after: 'P10D' },
      },
      {
        collection: { alignment: anchored, interval: 'P1D' },
        invoicing: { auto_advance: false, draft_period: 'P3D' },
        payment: { collection_method: 'send_invoice', due_after: 'P10D' },
      },
    ],
  ])('%s', (_name, base, overrides, expected) => {
    const before = JSON.stringify({ base, overrides });
    const out = applyOverrides(base, overrides);
    expect(out).toEqual(expected);
    // neither argument changed, and the result shares nothing with them
    expect(JSON.stringify({ base, overrides })).toBe(before);
    out.collection.interval = 'P9Y';
    if (out.collection.alignment.type === 'anchored')
      out.collection.alignment.recurring_period.interval = 'P9Y';
    expect(JSON.stringify({ base, overrides })).toBe(before);
  });
});

describe('compactOverrides', () => {
  it.each<[string, WorkflowOverrides | null | undefined, WorkflowOverrides | null]>([
    ['null', null, null],
    ['undefined', undefined, null],
    ['empty', {}, null],
    ['empty parts only', { collection: {}, invoicing: {} }, null],
    [
      'keeps false and P0D',
      { invoicing: { auto_advance: false, draft_period: 'P0D' } },
      { invoicing: { auto_advance: false, draft_period: 'P0D' } },
    ],
    [
      'drops the empty part, keeps the rest',
      { collection: {}, payment: { collection_method: 'charge_automatically' } },
      { payment: { collection_method: 'charge_automatically' } },
    ],
    [
      'keeps the alignment alone',
      { collection: { alignment: anchored } },
      { collection: { alignment: anchored } },
    ],
  ])('%s', (_name, input, expected) => {
    expect(compactOverrides(input)).toEqual(expected);
  });
});
