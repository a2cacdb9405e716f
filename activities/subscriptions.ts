/**
 * Subscription activities: write what the workflow decided to the `subscriptions` row. Each one sets
 * absolute values (no increments), so a retry or a replay writes the same row again.
 */
import { Context, log } from '@temporalio/activity';
import type { AppDeps } from '../src/deps';
import type { InvoiceFailureRecord, PeriodRecord, PeriodRecorded } from '../src/subscriptions/records';
import { resolveCustomerBilling } from '../src/profiles/service';
import { kickEntitlementResets } from '../src/notifications/reset-starts';
import { recordCanceled, recordInvoiceFailure, recordPeriod } from '../src/subscriptions/service';
import type { SubscriptionActivities } from './contract';

export type { SubscriptionActivities };

export function createSubscriptionActivities(
  deps: Pick<AppDeps, 'orm' | 'config' | 'temporal'>,
): SubscriptionActivities {
  return {
    /** The period, plan, phase and pending change now in force; answers the customer's billing profile. */
    async recordSubscriptionPeriod(input: PeriodRecord): Promise<PeriodRecorded> {
      const em = deps.orm.em.fork();
      const { reshaped, customerId } = await recordPeriod(em, input);
      // the entitlements in force may differ: the resets workflow looks again (notifications never fail this)
      if (reshaped && customerId)
        await kickEntitlementResets(
          deps.temporal ?? Context.current().client,
          deps.config.TEMPORAL_TASK_QUEUE,
          {
            subscriptionId: input.subscriptionId,
            customerId,
          },
        ).catch((err: unknown) => {
          log.warn('could not wake the entitlement-resets workflow', {
            subscriptionId: input.subscriptionId,
            error: err instanceof Error ? err.message : String(err),
          });
        });
      log.info('recordSubscriptionPeriod', {
        subscriptionId: input.subscriptionId,
        plan: `${input.plan.key}@${input.plan.version}`,
        phase: input.phaseKey,
        period: `${input.periodStart}/${input.periodEnd}`,
      });
      // for the TallyBillingProfileId search attribute (the customer may have moved to another profile);
      // cosmetic, so it never fails the recording
      if (!customerId) return {};
      try {
        return { billingProfileId: (await resolveCustomerBilling(em, customerId)).profile_id };
      } catch (err) {
        log.warn('could not resolve the billing profile for the search attribute', {
          subscriptionId: input.subscriptionId,
          error: err instanceof Error ? err.message : String(err),
        });
        return {};
      }
    },

    /** The invoice that keeps failing (shown by the API), or null once none does. */
    async recordInvoiceFailure(input: {
      subscriptionId: string;
      failure: InvoiceFailureRecord | null;
    }): Promise<void> {
      await recordInvoiceFailure(deps.orm.em.fork(), input.subscriptionId, input.failure);
      log.info('recordInvoiceFailure', { subscriptionId: input.subscriptionId, failure: input.failure });
    },

    /** The subscription ended at `activeTo`. */
    async markSubscriptionCanceled(input: { subscriptionId: string; activeTo: string }): Promise<void> {
      await recordCanceled(deps.orm.em.fork(), input.subscriptionId, input.activeTo);
      log.info('markSubscriptionCanceled', input);
    },
  };
}
