/**
 * The API layer's registry: every domain's router, mounted under /v3/openmeter (authenticated). Imported
 * only by src/api/app.ts, the API's composition root (and by tests that walk the mounted routes).
 */
import type { Router } from 'express';
import type { AppDeps } from '../deps';
import { appRoutes, stripeWebhookRouter } from '../apps/routes';
import { documentRoutes } from '../billing/document-routes';
import { billingRoutes } from '../billing/routes';
import { addonRoutes } from '../catalog/addon-routes';
import { catalogRoutes } from '../catalog/routes';
import { customerRoutes } from '../customers/routes';
import { entitlementRoutes } from '../entitlements/routes';
import { meteringRoutes } from '../metering/routes';
import { notificationRoutes } from '../notifications/routes';
import { profileRoutes } from '../profiles/routes';
import { subscriptionAddonRoutes } from '../subscriptions/addon-routes';
import { subscriptionRoutes } from '../subscriptions/routes';

export interface DomainRouter {
  domain: string;
  routes: (deps: AppDeps) => Router;
}

// Mounted in this order.
export const routers: DomainRouter[] = [
  { domain: 'customers', routes: customerRoutes },
  { domain: 'profiles', routes: profileRoutes },
  { domain: 'metering', routes: meteringRoutes },
  { domain: 'catalog', routes: catalogRoutes },
  { domain: 'catalog', routes: addonRoutes },
  { domain: 'subscriptions', routes: subscriptionRoutes },
  { domain: 'subscriptions', routes: subscriptionAddonRoutes },
  { domain: 'billing', routes: billingRoutes },
  { domain: 'billing', routes: documentRoutes },
  { domain: 'entitlements', routes: entitlementRoutes },
  { domain: 'apps', routes: appRoutes },
  { domain: 'notifications', routes: notificationRoutes },
];

/**
 * Routers mounted under /v3/openmeter BEFORE the bearer-token middleware: each authenticates its requests
 * by its own means (the Stripe webhook: Stripe's signature with the app's signing secret).
 */
export const unauthenticatedRouters: DomainRouter[] = [{ domain: 'apps', routes: stripeWebhookRouter }];
