/** The pure invoice state machine: every action from every state, allowed and refused, and the events. */
import {
  apply,
  availableActions,
  extendedStatus,
  INVOICE_ACTIONS,
  statusDetails,
  type InvoiceAction,
  type InvoiceEvent,
  type InvoiceStatus,
  type LifecycleState,
} from '../../src/billing/lifecycle';

const st = (status: InvoiceStatus, over: Partial<LifecycleState> = {}): LifecycleState => ({
  status,
  failed: false,
  autoAdvance: true,
  collectionMethod: 'charge_automatically',
  ...over,
});

/** [state, label, action → resulting status (or null: refused)] for every action */
const TABLE: [LifecycleState, string, Record<InvoiceAction, InvoiceStatus | null>][] = [
  [
    st('draft'),
    'draft.waiting_auto_approval',
    {
      advance: 'issuing',
      approve: 'issuing',
      retry: null,
      snapshot_quantities: 'draft',
      void: null,
      delete: 'deleted',
      edit: 'draft',
      mark_paid: null,
      mark_uncollectible: null,
    },
  ],
  [
    st('draft', { autoAdvance: false }),
    'draft.manual_approval_needed',
    {
      advance: null,
      approve: 'issuing',
      retry: null,
      snapshot_quantities: 'draft',
      void: null,
      delete: 'deleted',
      edit: 'draft',
      mark_paid: null,
      mark_uncollectible: null,
    },
  ],
  [
    st('issuing'),
    'issuing.syncing',
    {
      advance: null,
      approve: null,
      retry: null,
      snapshot_quantities: null,
      void: null,
      delete: null,
      edit: null,
      mark_paid: null,
      mark_uncollectible: null,
    },
  ],
  [
    st('issuing', { failed: true }),
    'issuing.failed',
    {
      advance: null,
      approve: null,
      retry: 'issuing',
      snapshot_quantities: null,
      void: null,
      delete: 'deleted',
      edit: null,
      mark_paid: null,
      mark_uncollectible: null,
    },
  ],
  [
    st('issued'),
    'issued',
    {
      advance: null,
      approve: null,
      retry: null,
      snapshot_quantities: null,
      void: 'voided',
      delete: null,
      edit: null,
      mark_paid: null,
      mark_uncollectible: null,
    },
  ],
  [
    st('issued', { failed: true }),
    'issued.payment_hand_over_failed',
    {
      advance: null,
      approve: null,
      retry: 'issued',
      snapshot_quantities: null,
      void: 'voided',
      delete: null,
      edit: null,
      mark_paid: null,
      mark_uncollectible: null,
    },
  ],
  ...(['payment_processing', 'overdue'] as const).map(
    (s) =>
      [
        st(s, { collectionMethod: 'send_invoice' }),
        s === 'overdue' ? 'overdue' : 'payment_processing.pending',
        {
          advance: null,
          approve: null,
          retry: null,
          snapshot_quantities: null,
          void: 'voided',
          delete: null,
          edit: null,
          mark_paid: 'paid',
          mark_uncollectible: 'uncollectible',
        },
      ] as [LifecycleState, string, Record<InvoiceAction, InvoiceStatus | null>],
  ),
  [
    st('uncollectible'),
    'uncollectible',
    {
      advance: null,
      approve: null,
      retry: null,
      snapshot_quantities: null,
      void: 'voided',
      delete: null,
      edit: null,
      mark_paid: 'paid',
      mark_uncollectible: null,
    },
  ],
  ...(['paid', 'voided', 'deleted'] as const).map(
    (s) =>
      [
        st(s),
        s,
        Object.fromEntries(INVOICE_ACTIONS.map((a) => [a, null])) as Record<InvoiceAction, null>,
      ] as [LifecycleState, string, Record<InvoiceAction, InvoiceStatus | null>],
  ),
];

describe('every action from every state', () => {
  const cases = TABLE.flatMap(([s, label, outcomes]) =>
    INVOICE_ACTIONS.map((a) => [label, a, s, outcomes[a]] as const),
  );
  it.each(cases)('%s + %s', (label, action, s, expected) => {
    expect(extendedStatus(s)).toBe(label);
    const r = apply(s, action);
    if (expected === null) {
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.refusal.message).toContain(`${action} is not allowed while the invoice is ${label}`);
      expect(r.refusal.available_actions).toEqual(availableActions(s));
      expect(action in r.refusal.available_actions).toBe(false);
    } else {
      expect(r).toMatchObject({ ok: true, state: { status: expected, failed: false } });
      expect(availableActions(s)[action]).toBeDefined();
    }
  });

  it('the table covers every status and every action', () => {
    expect(new Set(TABLE.map(([s]) => s.status)).size).toBe(9);
    for (const [, , o] of TABLE) expect(Object.keys(o).sort()).toEqual([...INVOICE_ACTIONS].sort());
  });
});

describe('available actions name their resulting state', () => {
  it('draft (auto advance)', () => {
    expect(availableActions(st('draft'))).toEqual({
      advance: { resulting_state: 'issued' },
      approve: { resulting_state: 'issued' },
      snapshot_quantities: { resulting_state: 'draft.waiting_auto_approval' },
      edit: { resulting_state: 'draft.waiting_auto_approval' },
      delete: { resulting_state: 'deleted' },
    });
  });
  it('a failed hand-over retries towards paid or payment processing, as the collection method says', () => {
    expect(availableActions(st('issued', { failed: true })).retry).toEqual({ resulting_state: 'paid' });
    expect(availableActions(st('issued', { failed: true, collectionMethod: 'send_invoice' })).retry).toEqual({
      resulting_state: 'payment_processing.pending',
    });
  });
  it('a final invoice offers nothing, and says so', () => {
    const r = apply(st('paid'), 'void');
    expect(r).toEqual({
      ok: false,
      refusal: {
        message: 'void is not allowed while the invoice is paid (no action is available)',
        available_actions: {},
      },
    });
  });
  it('a refusal lists what is allowed', () => {
    const r = apply(st('payment_processing'), 'approve');
    expect(!r.ok && r.refusal.message).toBe(
      'approve is not allowed while the invoice is payment_processing.pending (available: mark_paid, mark_uncollectible, void)',
    );
  });
});

describe('status details', () => {
  it.each([
    [st('draft'), false, false],
    [st('issuing', { failed: true }), true, true],
    [st('issued'), true, false],
    [st('paid'), true, false],
  ])('%o → immutable %s, failed %s', (s, immutable, failed) => {
    expect(statusDetails(s)).toEqual({
      immutable,
      failed,
      extended_status: extendedStatus(s),
      available_actions: availableActions(s),
    });
  });
});

describe('events', () => {
  const E = (type: InvoiceEvent['type'], extra: object = {}) => ({ type, ...extra }) as InvoiceEvent;
  it.each<[string, LifecycleState, InvoiceEvent, InvoiceStatus | null, boolean?]>([
    ['draft period over, auto advance', st('draft'), E('draft_period_ended'), 'issuing'],
    [
      'draft period over, approval needed',
      st('draft', { autoAdvance: false }),
      E('draft_period_ended'),
      'draft',
    ],
    ['draft period over, not a draft', st('issued'), E('draft_period_ended'), null],
    ['issued', st('issuing'), E('issued'), 'issued'],
    ['issued while failed', st('issuing', { failed: true }), E('issued'), null],
    ['issued, not issuing', st('draft'), E('issued'), null],
    ['issue failed', st('issuing'), E('issue_failed'), 'issuing', true],
    ['charged', st('issued'), E('handed_over', { result: 'paid' }), 'paid'],
    [
      'sent',
      st('issued', { collectionMethod: 'send_invoice' }),
      E('handed_over', { result: 'payment_processing' }),
      'payment_processing',
    ],
    [
      'paid at once although sent',
      st('issued', { collectionMethod: 'send_invoice' }),
      E('handed_over', { result: 'paid' }),
      null,
    ],
    ['handed over twice', st('paid'), E('handed_over', { result: 'paid' }), null],
    ['hand-over failed', st('issued'), E('hand_over_failed'), 'issued', true],
    ['due', st('payment_processing'), E('due'), 'overdue'],
    ['due once paid', st('paid'), E('due'), null],
    ['due when voided', st('voided'), E('due'), null],
  ])('%s', (_, s, e, expected, failed = false) => {
    const r = apply(s, e);
    if (expected === null) expect(r.ok).toBe(false);
    else expect(r).toEqual({ ok: true, state: { ...s, status: expected, failed } });
  });

  it('retry clears the failure and reruns the failed step', () => {
    expect(apply(st('issuing', { failed: true }), 'retry')).toEqual({
      ok: true,
      state: st('issuing'),
    });
    expect(apply(st('issued', { failed: true }), 'retry')).toEqual({ ok: true, state: st('issued') });
  });
});
