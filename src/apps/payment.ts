/**
 * The payment apps behind one interface, dispatched by the app's type: the invoice workflow runs the
 * app's issuing steps (each one an activity, idempotent: checked before it calls out), then the hand-over
 * (`collect`), whose outcome billing records once.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { invalid } from '../lib/errors';
import { customInvoicingApp } from './custominvoicing';
import { sandboxApp } from './sandbox';
import { findInstalledApp } from './state';
import { stripePaymentApp } from './stripe/invoicing';
import type { PaymentApp } from './payment-app';
import type { AppType } from './types';

export type { AppContext, PaymentApp } from './payment-app';

const APPS: Record<AppType, PaymentApp> = {
  sandbox: sandboxApp,
  stripe: stripePaymentApp,
  custom_invoicing: customInvoicingApp,
};

/** The invoice's payment app (installed or uninstalled since: the invoice keeps it). */
export async function paymentAppOf(em: EntityManager, appId: string): Promise<PaymentApp> {
  const row =
    (await findInstalledApp(em, appId)) ??
    (await em.getConnection().execute<{ type: AppType }[]>('select type from apps where id = ?', [appId]))[0];
  const app = row ? APPS[row.type as AppType] : undefined;
  if (!app) throw invalid(`the invoice's payment app ${appId} does not exist`);
  return app;
}
