/**
 * The sandbox payment app: issues nothing elsewhere; the hand-over settles as OpenMeter's sandbox does,
 * by the label `openmeter.io/sandbox/target-payment-status` on the invoice, else on its customer: `paid`
 * (the default: charged → paid; send_invoice → awaits mark-paid), `failed` (awaits payment, the failure
 * shown), `uncollectible`, `action_required` (awaits payment, shown).
 */
import { findCustomer, findDeletedCustomer } from '../customers/service';
import { defaultOutcome, type PaymentOutcome } from '../billing/invoices';
import type { PaymentApp } from './payment-app';
import { SANDBOX_TARGET_STATUS_LABEL, SANDBOX_TARGETS, type SandboxTarget } from './types';

const isTarget = (v: string | undefined): v is SandboxTarget =>
  v !== undefined && (SANDBOX_TARGETS as readonly string[]).includes(v);

/** The outcome a target status asks for (pure). */
export function sandboxOutcome(target: SandboxTarget | undefined, collectionMethod: string): PaymentOutcome {
  switch (target) {
    case 'failed':
      return {
        status: 'payment_processing',
        issue: { state: 'failed', message: 'simulated payment failure (sandbox)' },
      };
    case 'action_required':
      return {
        status: 'payment_processing',
        issue: { state: 'action_required', message: 'simulated: the customer must act (sandbox)' },
      };
    case 'uncollectible':
      return { status: 'uncollectible' };
    default:
      return defaultOutcome(collectionMethod);
  }
}

export const sandboxApp: PaymentApp = {
  type: 'sandbox',
  issueSteps: [],
  async issue() {
    // the sandbox issues invoices itself: nothing to do elsewhere
  },
  async collect(ctx, invoice) {
    let target: string | undefined = invoice.labels[SANDBOX_TARGET_STATUS_LABEL];
    if (!isTarget(target)) {
      const c =
        (await findCustomer(ctx.em, { id: invoice.customerId })) ??
        (await findDeletedCustomer(ctx.em, invoice.customerId));
      target = c?.labels?.[SANDBOX_TARGET_STATUS_LABEL];
    }
    return sandboxOutcome(isTarget(target) ? target : undefined, invoice.collectionMethod);
  },
};
