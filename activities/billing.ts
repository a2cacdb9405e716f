/**
 * Billing activities. The subscription workflow decides when a period is billable and hands it over
 * (`handOverInvoice`: a pending line of the customer, then a signal to the customer's collection workflow);
 * the collection workflow gathers the customer's due lines onto drafts (`gatherPendingLines`, which starts
 * their workflows); the invoice workflow runs the invoice's steps. Each one is idempotent: see
 * src/billing/pending.ts and src/billing/invoices.ts.
 */
import { Context, log } from '@temporalio/activity';
import type { IssueInvoiceInput } from '../src/billing/contract';
import {
  editDraftInvoice,
  handOverToPayment,
  invoiceForApp,
  issueDraftInvoice,
  recordAppSync,
  recordPaymentIssue,
  recordInvoiceFailure,
  recordInvoiceStatus,
  rerateDraftInvoice,
} from '../src/billing/invoices';
import { gatheredDrafts, gatherPendingLines, handOverPeriod } from '../src/billing/pending';
import { customerInvoicingSnapshot, type SnapshotResolver } from '../src/billing/settings';
import { paymentAppOf } from '../src/apps/payment';
import { syncHooksOf } from '../src/apps/state';
import { signalCollection, startInvoiceWorkflow } from '../src/billing/workflow-starts';
import type { AppDeps } from '../src/deps';
import type { At, BillingActivities, CollectionActivities, InvoiceActivities } from './contract';

export type { BillingActivities, CollectionActivities, InvoiceActivities };
export { invoiceWorkflowId } from '../src/billing/workflow-starts';

export interface BillingActivityOptions {
  /** the customer's billing settings (default: its profile with its overrides, src/billing/settings.ts) */
  invoicingSnapshot?: SnapshotResolver;
}

/** the workflow's "now" when it sent one, else the wall clock */
const when = (at: string | undefined) => (at ? new Date(at) : new Date());

export function createBillingActivities(
  deps: Pick<AppDeps, 'orm' | 'config' | 'temporal' | 'stripeHttpClient'>,
  opts: BillingActivityOptions = {},
): BillingActivities & CollectionActivities & InvoiceActivities {
  const em = () => deps.orm.em.fork();
  const resolve = opts.invoicingSnapshot ?? customerInvoicingSnapshot;
  // the app's client when it has one (tests: the time-skipping server's), else the worker's
  const client = () => deps.temporal ?? Context.current().client;
  // the worker's own client can start an invoice's workflow eagerly (its first task comes straight back)
  const eager = !deps.temporal;
  return {
    async handOverInvoice({ at, ...input }: IssueInvoiceInput & At) {
      const e = em();
      const snapshot = await resolve(e, input.customerId);
      const line = await handOverPeriod(e, input, snapshot, when(at));
      // signalled on every try (a retry after a lost signal signals again; a duplicate signal is harmless)
      await signalCollection(client(), Context.current().info.taskQueue, line.customerId, line.collectAt);
      log.info('handOverInvoice', {
        lineKey: line.lineKey,
        created: line.created,
        collectAt: line.collectAt,
      });
      return line;
    },

    async gatherPendingLines({ customerId, at }) {
      const e = em();
      const now = when(at);
      const res = await gatherPendingLines(e, customerId, now, resolve, now);
      // every gathered draft of the customer gets its workflow (a retry after a crash starts the missing one)
      const started: string[] = [];
      for (const d of await gatheredDrafts(e, customerId))
        if (
          await startInvoiceWorkflow(
            client(),
            Context.current().info.taskQueue,
            d,
            await syncHooksOf(e, d.paymentAppId),
            eager,
          )
        )
          started.push(d.invoiceId);
      log.info('gatherPendingLines', {
        customerId,
        created: res.drafts.map((d) => d.invoiceId),
        workflowsStarted: started,
        nextCollectAt: res.nextCollectAt,
      });
      return { invoiceIds: res.drafts.map((d) => d.invoiceId), nextCollectAt: res.nextCollectAt };
    },

    async rerateDraftInvoice({ invoiceId, at }) {
      return rerateDraftInvoice(em(), invoiceId, when(at));
    },
    async issueDraftInvoice({ invoiceId, at }) {
      const e = em();
      const ref = await issueDraftInvoice(e, invoiceId, when(at));
      log.info('issueDraftInvoice', { invoiceId, number: ref.number, issued: ref.issued });
      // the payment app's issuing steps come along: one activity less per invoice (BENCHMARKS.md, billing-day)
      const app = await paymentAppOf(e, ref.paymentAppId);
      const { paymentAppId: _, ...issued } = ref;
      return { ...issued, appSteps: [...app.issueSteps] };
    },
    async paymentAppSteps({ invoiceId }) {
      const e = em();
      const inv = await invoiceForApp(e, invoiceId);
      const app = await paymentAppOf(e, inv.paymentAppId);
      return { type: app.type, steps: [...app.issueSteps] };
    },
    async issueInPaymentApp({ invoiceId, step }) {
      const e = em();
      const inv = await invoiceForApp(e, invoiceId);
      const app = await paymentAppOf(e, inv.paymentAppId);
      await app.issue({ deps, em: e, appId: inv.paymentAppId }, inv, step);
      log.info('issueInPaymentApp', { invoiceId, app: app.type, step });
    },
    async handOverToPayment({ invoiceId, at }) {
      const e = em();
      const inv = await invoiceForApp(e, invoiceId);
      // recorded already (a retry): nothing is charged or sent again
      if (inv.status !== 'issued') return handOverToPayment(e, invoiceId, when(at));
      const app = await paymentAppOf(e, inv.paymentAppId);
      const outcome = await app.collect({ deps, em: e, appId: inv.paymentAppId }, inv);
      const r = await handOverToPayment(e, invoiceId, when(at), outcome);
      log.info('handOverToPayment', { invoiceId, ...r });
      return r;
    },
    async recordPaymentIssue({ invoiceId, message, at }) {
      await recordPaymentIssue(
        em(),
        invoiceId,
        message === null ? null : { state: 'failed', message },
        when(at),
      );
    },
    async recordInvoiceStatus({ invoiceId, status, at }) {
      await recordInvoiceStatus(em(), invoiceId, status, when(at));
    },
    async recordInvoiceStepFailure({ invoiceId, step, message, at }) {
      await recordInvoiceFailure(em(), invoiceId, step, message, when(at));
    },
    async recordAppSync({ invoiceId, step, references, at }) {
      await recordAppSync(em(), invoiceId, step, references, when(at));
    },
    async editDraftInvoice({ invoiceId, edit, at }) {
      return editDraftInvoice(em(), invoiceId, edit, when(at));
    },
  };
}
