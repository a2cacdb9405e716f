// Workflow entry points for the worker bundle.
import type {
  CollectionWorkflow,
  EntitlementResetsWorkflow,
  InvoiceWorkflow,
  NotificationDeliveryWorkflow,
  SubscriptionWorkflow,
} from './definitions';
import { collectionWorkflow } from './collection';
import { entitlementResetsWorkflow } from './entitlement-resets';
import { invoiceWorkflow } from './invoice';
import { notificationDeliveryWorkflow } from './notification';
import { subscriptionWorkflow } from './subscription';

// the API and the activities start the workflows by these signatures (definitions.ts) without importing them
const _signature: SubscriptionWorkflow = subscriptionWorkflow;
const _invoiceSignature: InvoiceWorkflow = invoiceWorkflow;
const _collectionSignature: CollectionWorkflow = collectionWorkflow;
const _notificationSignature: NotificationDeliveryWorkflow = notificationDeliveryWorkflow;
void _signature;
void _invoiceSignature;
void _collectionSignature;
const _resetsSignature: EntitlementResetsWorkflow = entitlementResetsWorkflow;
void _notificationSignature;
void _resetsSignature;

export {
  collectionWorkflow,
  entitlementResetsWorkflow,
  invoiceWorkflow,
  notificationDeliveryWorkflow,
  subscriptionWorkflow,
};
