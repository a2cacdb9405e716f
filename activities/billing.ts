/** Billing activities: the workflow decides when and what period; billing computes and stores, idempotently. */
import { log } from '@temporalio/activity';
import type { IssueInvoiceInput, IssuedInvoiceRef } from '../src/billing/contract';
import { issueInvoice } from '../src/billing/service';
import type { AppDeps } from '../src/deps';
import type { BillingActivities } from './contract';

export type { BillingActivities };

export function createBillingActivities(deps: Pick<AppDeps, 'orm'>): BillingActivities {
  return {
    /** Issues the invoice for a closed period (and/or a starting period's in-advance fees) once per key. */
    async issueInvoice(input: IssueInvoiceInput): Promise<IssuedInvoiceRef> {
      const ref = await issueInvoice(deps.orm.em.fork(), input);
      log.info('issueInvoice', {
        invoiceKey: input.invoiceKey,
        invoiceId: ref.invoiceId,
        number: ref.number,
        total: ref.total,
        created: ref.created,
      });
      return ref;
    },
  };
}
