/**
 * Billing activities. The subscription workflow decides when a period is billable and hands it over
 * (`handOverInvoice`: the draft, then its workflow); the invoice workflow runs the invoice's steps. Each one
 * is idempotent: see src/billing/invoices.ts.
 */
import { Context, log } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { IssueInvoiceInput } from '../src/billing/contract';
import {
  createDraftInvoice,
  editDraftInvoice,
  handOverToPayment,
  invoiceForApp,
  issueDraftInvoice,
  recordPaymentIssue,
  recordInvoiceFailure,
  recordInvoiceStatus,
  rerateDraftInvoice,
} from '../src/billing/invoices';
import { customerInvoicingSnapshot, type SnapshotResolver } from '../src/billing/settings';
import { paymentAppOf } from '../src/apps/payment';
import type { AppDeps } from '../src/deps';
import { SA_CUSTOMER_KEY, SA_INVOICE_STATUS } from '../src/temporal/search-attributes';
import type { InvoiceWorkflow } from '../workflows/definitions';
import type { At, BillingActivities, InvoiceActivities } from './contract';

export type { BillingActivities, InvoiceActivities };

export interface BillingActivityOptions {
  /** the customer's billing settings (default: its profile with its overrides, src/billing/settings.ts) */
  invoicingSnapshot?: SnapshotResolver;
}

/** the workflow's "now" when it sent one, else the wall clock */
const when = (at: string | undefined) => (at ? new Date(at) : new Date());

export const invoiceWorkflowId = (invoiceId: string) => `invoice-${invoiceId}`;

export function createBillingActivities(
  deps: Pick<AppDeps, 'orm' | 'config' | 'temporal' | 'stripeHttpClient'>,
  opts: BillingActivityOptions = {},
): BillingActivities & InvoiceActivities {
  const em = () => deps.orm.em.fork();
  const resolve = opts.invoicingSnapshot ?? customerInvoicingSnapshot;
  return {
    async handOverInvoice({ at, ...input }: IssueInvoiceInput & At) {
      const e = em();
      const snapshot = await resolve(e, input.customerId);
      const draft = await createDraftInvoice(e, input, snapshot, when(at));
      let workflowStarted = false;
      // a draft found again (a retry) may already be past its workflow: started once, by id
      if (draft.status === 'draft') {
        const ctx = Context.current();
        // the app's client when it has one (tests: the time-skipping server's), else the worker's
        const client = deps.temporal ?? ctx.client;
        try {
          await client.workflow.start<InvoiceWorkflow>('invoiceWorkflow', {
            taskQueue: ctx.info.taskQueue,
            workflowId: invoiceWorkflowId(draft.invoiceId),
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            args: [
              {
                invoiceId: draft.invoiceId,
                customerKey: draft.customerKey,
                lifecycle: draft.lifecycle,
                draftUntil: draft.draftUntil,
              },
            ],
            typedSearchAttributes: [
              { key: SA_CUSTOMER_KEY, value: draft.customerKey },
              { key: SA_INVOICE_STATUS, value: 'draft' },
            ],
          });
          workflowStarted = true;
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      }
      log.info('handOverInvoice', {
        invoiceKey: input.invoiceKey,
        invoiceId: draft.invoiceId,
        created: draft.created,
        workflowStarted,
      });
      return { ...draft, workflowStarted };
    },

    async rerateDraftInvoice({ invoiceId, at }) {
      return rerateDraftInvoice(em(), invoiceId, when(at));
    },
    async issueDraftInvoice({ invoiceId, at }) {
      const ref = await issueDraftInvoice(em(), invoiceId, when(at));
      log.info('issueDraftInvoice', { invoiceId, number: ref.number, issued: ref.issued });
      return ref;
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
    async editDraftInvoice({ invoiceId, edit, at }) {
      await editDraftInvoice(em(), invoiceId, edit, when(at));
    },
  };
}
