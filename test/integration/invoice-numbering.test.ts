/**
 * Issue 11, numbering: drafts are numbered by the sequence `DRAFT-…`; issuing takes the next number of the
 * invoice's billing profile. Issued numbers stay gapless and unique when drafts are issued concurrently
 * and some issuing transactions die before they commit; each profile counts on its own, with its prefix.
 * Also: issuing, the hand-over and the status writes are idempotent and refuse what the row does not allow.
 */
import type { IssueInvoiceInput } from '../../src/billing/contract';
import {
  createDraftInvoice,
  handOverToPayment,
  issueDraftInvoice,
  recordInvoiceStatus,
} from '../../src/billing/invoices';
import { ensureBillingSetup } from '../../src/billing/settings';
import { getDefaultProfile, resolveCustomerBilling } from '../../src/profiles/service';
import { ConflictError } from '../../src/lib/errors';
import { newId } from '../../src/lib/ids';
import type { InvoicingSnapshot } from '../../src/profiles/types';
import { createTestApp, type TestApp } from '../support/app';
import { fixtures, flatFeeRateCard } from '../support/api';

jest.setTimeout(120_000);

let app: TestApp;
let planId: string;
let customerId: string;
const em = () => app.deps.orm.em.fork();

beforeAll(async () => {
  app = await createTestApp();
  const f = fixtures(app);
  customerId = (await f.customer('numbering', { name: 'Numbering' })).id;
  const { feature } = await f.meteredFeature();
  planId = (
    await f.meteredPlan(
      'numbering',
      { featureId: feature.id, price: '0.1' },
      { more: [flatFeeRateCard('5')] },
    )
  ).id;
});
afterAll(async () => {
  await app?.close();
});

const input = (): IssueInvoiceInput => ({
  invoiceKey: `numbering-${newId()}`,
  subscriptionId: newId(),
  customerId,
  subscriptionStart: '2026-01-01T00:00:00.000Z',
  arrears: {
    planId,
    phaseKey: 'default',
    from: '2026-01-01T00:00:00.000Z',
    to: '2026-02-01T00:00:00.000Z',
    cycleFrom: '2026-01-01T00:00:00.000Z',
    cycleTo: '2026-02-01T00:00:00.000Z',
  },
});

/** The customer's real snapshot (the default profile), numbered under another profile id. */
const profile = async (
  id: string,
  collection: 'charge_automatically' | 'send_invoice' = 'charge_automatically',
) => {
  const d = await resolveCustomerBilling(em(), customerId);
  return {
    ...d,
    profile_id: id,
    workflow: {
      ...d.workflow,
      payment:
        collection === 'send_invoice'
          ? { collection_method: 'send_invoice' as const, due_after: 'P14D' }
          : { collection_method: 'charge_automatically' as const },
    },
  } satisfies InvoicingSnapshot;
};

const numbersOf = async (profileId: string) =>
  (
    await em().execute<{ number: string }[]>(
      'select number from invoices where profile_id = ? and number is not null order by number',
      [profileId],
    )
  ).map((r) => r.number);

it('concurrent issuing with transactions dying before commit: gapless, unique, a retry takes the next number', async () => {
  const p = await profile('numbering-a');
  const drafts = [];
  for (let i = 0; i < 30; i++) drafts.push(await createDraftInvoice(em(), input(), p));
  expect(drafts.every((d) => d.created && /^DRAFT-\d{6}$/.test(d.draftNumber!))).toBe(true);
  const outcomes = await Promise.allSettled(
    drafts.map((d, i) =>
      issueDraftInvoice(em(), d.invoiceId, new Date(), {
        beforeCommit:
          i % 3 === 1
            ? async (tem) => {
                await tem.execute('select pg_sleep(0.02)');
                throw new Error(`worker died mid-issue (${i})`);
              }
            : undefined,
      }),
    ),
  );
  expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(10);
  const pad = (n: number) => `INV-${String(n).padStart(6, '0')}`;
  expect(await numbersOf('numbering-a')).toEqual(Array.from({ length: 20 }, (_, i) => pad(i + 1)));
  // the drafts whose issuing died are still drafts, unnumbered; retried, they take 21…30
  const died = drafts.filter((_, i) => i % 3 === 1);
  const again = await Promise.all(died.map((d) => issueDraftInvoice(em(), d.invoiceId)));
  expect(again.every((r) => r.issued)).toBe(true);
  expect(await numbersOf('numbering-a')).toEqual(Array.from({ length: 30 }, (_, i) => pad(i + 1)));
  // issuing an issued invoice again (a retried activity) changes nothing
  const repeat = await issueDraftInvoice(em(), died[0].invoiceId);
  expect([repeat.issued, repeat.number]).toEqual([false, again[0].number]);
  expect(await numbersOf('numbering-a')).toHaveLength(30);
});

it('each profile has its own counter and prefix', async () => {
  await em().execute(
    `insert into invoice_number_counter (name, last_value, prefix) values ('numbering-b', 41, 'ACME-')`,
  );
  const b = await createDraftInvoice(em(), input(), await profile('numbering-b'));
  const c = await createDraftInvoice(em(), input(), await profile('numbering-c'));
  expect((await issueDraftInvoice(em(), b.invoiceId)).number).toBe('ACME-000042');
  expect((await issueDraftInvoice(em(), c.invoiceId)).number).toBe('INV-000001');
});

it('the hand-over happens once; status writes refuse what the row does not lead to', async () => {
  const d = await createDraftInvoice(em(), input(), await profile('numbering-d', 'send_invoice'));
  await expect(handOverToPayment(em(), d.invoiceId)).resolves.toEqual({ status: 'draft', handedOver: false });
  await expect(recordInvoiceStatus(em(), d.invoiceId, 'voided')).rejects.toBeInstanceOf(ConflictError);
  const issued = await issueDraftInvoice(em(), d.invoiceId, new Date('2026-02-01T01:00:00Z'));
  expect(issued.dueAt).toBe('2026-02-15T01:00:00.000Z');
  const first = await handOverToPayment(em(), d.invoiceId);
  const second = await handOverToPayment(em(), d.invoiceId);
  expect([first, second]).toEqual([
    { status: 'payment_processing', handedOver: true },
    { status: 'payment_processing', handedOver: false },
  ]);
  await recordInvoiceStatus(em(), d.invoiceId, 'overdue');
  await recordInvoiceStatus(em(), d.invoiceId, 'overdue'); // a retry: no-op
  await expect(recordInvoiceStatus(em(), d.invoiceId, 'deleted')).rejects.toBeInstanceOf(ConflictError);
  await recordInvoiceStatus(em(), d.invoiceId, 'voided');
  await expect(issueDraftInvoice(em(), d.invoiceId)).resolves.toMatchObject({ issued: false });
  const [row] = await em().execute<{ status: string; voided_at: Date | null }[]>(
    'select status, voided_at from invoices where id = ?',
    [d.invoiceId],
  );
  expect([row.status, row.voided_at !== null]).toEqual(['voided', true]);
});

it('a second hand-over of the same key finds the draft (retried or replayed): one invoice, one set of lines', async () => {
  const i = input();
  const [a, b] = await Promise.all([
    createDraftInvoice(em(), i, await profile('numbering-e')),
    createDraftInvoice(em(), i, await profile('numbering-e')),
  ]);
  expect(a.invoiceId).toBe(b.invoiceId);
  expect([a.created, b.created].sort()).toEqual([false, true]);
  const lines = await em().execute<{ n: number }[]>(
    'select count(*)::int as n from invoice_lines where invoice_id = ?',
    [a.invoiceId],
  );
  expect(lines[0].n).toBe(2);
});

it('at start, the invoices and the number sequence kept under the legacy id pass to the default profile (once, racing starts included)', async () => {
  const d = await getDefaultProfile(em());
  // as an upgraded installation finds them: the lifecycle migration keeps both under 'default'
  await em().execute(`update invoice_number_counter set name = 'default', last_value = 7 where name = ?`, [
    d.id,
  ]);
  const legacy = await createDraftInvoice(em(), input(), await profile('default'));
  await Promise.all([ensureBillingSetup(em(), 'PT1H'), ensureBillingSetup(em(), 'PT1H')]);
  expect(
    await em().execute(
      `select name, last_value::int as n from invoice_number_counter where name in (?, 'default')`,
      [d.id],
    ),
  ).toEqual([{ name: d.id, n: 7 }]);
  const [row] = await em().execute<{ profile_id: string }[]>('select profile_id from invoices where id = ?', [
    legacy.invoiceId,
  ]);
  expect(row.profile_id).toBe(d.id);
  // numbering goes on where it stopped
  expect((await issueDraftInvoice(em(), legacy.invoiceId)).number).toBe('INV-000008');
  await ensureBillingSetup(em(), 'PT1H'); // later starts change nothing
  expect(
    await em().execute(`select last_value::int as n from invoice_number_counter where name = ?`, [d.id]),
  ).toEqual([{ n: 8 }]);
});
