/**
 * The payment apps behind one interface, dispatched by the app's type: the invoice workflow runs the
 * app's issuing steps (each one an activity, idempotent: checked before it calls out), then the hand-over
 * (`collect`), whose outcome billing records once.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { InvoiceForApp, PaymentOutcome } from '../billing/invoices';
import type { AppDeps } from '../deps';
import { invalid } from '../lib/errors';
import { sandboxApp } from './sandbox';
import { findInstalledApp } from './state';
import { stripePaymentApp } from './stripe/invoicing';
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

const APPS: Record<AppType, PaymentApp> = { sandbox: sandboxApp, stripe: stripePaymentApp };

/** The invoice's payment app (installed or uninstalled since: the invoice keeps it). */
export async function paymentAppOf(em: EntityManager, appId: string): Promise<PaymentApp> {
  const row =
    (await findInstalledApp(em, appId)) ??
    (await em.getConnection().execute<{ type: AppType }[]>('select type from apps where id = ?', [appId]))[0];
  const app = row ? APPS[row.type as AppType] : undefined;
  if (!app) throw invalid(`the invoice's payment app ${appId} does not exist`);
  return app;
}
