/**
 * What an operator sees of a subscription workflow in the Temporal Web UI: the "current details" markdown
 * (customer, plan and version, phase, period, next boundary, pending change, failing invoice) and the
 * next billing instant behind the `TallyNextBillingAt` search attribute. Pure and workflow-safe: the
 * workflow renders it from its state; tests render it from the same state to compare.
 */
import { failingInvoice, phaseOf, type SubscriptionState } from './machine';

/**
 * When the workflow bills next: the current period's end (its arrears, and the next period's in-advance
 * fees, are handed over then); `active_from` while scheduled; null once the subscription has ended.
 */
export function nextBillingAt(state: SubscriptionState): string | null {
  if (state.status === 'canceled') return null;
  if (state.status === 'scheduled') return state.activeFrom;
  return state.period?.to ?? null;
}

const pendingText = (p: NonNullable<SubscriptionState['pendingChange']>): string => {
  const when = p.at === 'next_billing_cycle' ? 'at the next billing cycle' : `at ${p.at}`;
  const to = p.plan ? ` to \`${p.plan.key}\` v${p.plan.version}` : '';
  return `${p.kind}${to} ${when}`;
};

/** The markdown shown as the workflow's current details (Temporal UI, `__temporal_workflow_metadata`). */
export function operatorDetails(state: SubscriptionState, customerKey: string | undefined): string {
  const phase = phaseOf(state);
  const lines = [
    `**Subscription** \`${state.subscriptionId}\` — ${state.status}`,
    `**Customer** \`${customerKey ?? state.customerId}\``,
    `**Plan** \`${state.plan.key}\` v${state.plan.version}, phase \`${phase.key}\` since ${state.phaseStartedAt}`,
  ];
  if (state.period) lines.push(`**Current period** ${state.period.from} → ${state.period.to}`);
  const next = nextBillingAt(state);
  lines.push(`**Next billing** ${next ?? 'none (ended)'}`);
  if (state.activeTo) lines.push(`**Ends** ${state.activeTo}`);
  lines.push(`**Pending change** ${state.pendingChange ? pendingText(state.pendingChange) : 'none'}`);
  const failing = failingInvoice(state);
  if (failing)
    lines.push(
      `**Invoice failing** \`${failing.invoiceKey}\`: ${failing.tries} tries since ${failing.since}, ` +
        `next at ${failing.retryAt}; last error: ${failing.lastError}`,
    );
  if (state.pendingInvoices.length)
    lines.push(`**Invoices to hand over** ${state.pendingInvoices.map((i) => i.dueAt).join(', ')}`);
  lines.push(`**Invoices issued** ${state.invoicesIssued}`);
  return lines.join('\n\n');
}
