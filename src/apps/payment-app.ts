/** The interface every payment app implements (sandbox.ts, stripe/invoicing.ts); dispatch in payment.ts. */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { InvoiceForApp, PaymentOutcome } from '../billing/invoices';
import type { AppDeps } from '../deps';
import type { AppType } from './types';

export interface AppContext {
  deps: Pick<AppDeps, 'config' | 'stripeHttpClient'>;
  em: EntityManager;
  appId: string;
}

export interface PaymentApp {
  type: AppType;
  /** the app's issuing steps, in order (none for the sandbox) */
  issueSteps: readonly string[];
  issue(ctx: AppContext, invoice: InvoiceForApp, step: string): Promise<void>;
  /** hands the issued invoice over: charges it or sends it, and says what became of the payment */
  collect(ctx: AppContext, invoice: InvoiceForApp): Promise<PaymentOutcome>;
}
