// Workflow entry points for the worker bundle.
import type {
  CollectionWorkflow,
  InvoiceWorkflow,
  NotificationDeliveryWorkflow,
  SubscriptionWorkflow,
} from './definitions';
import { collectionWorkflow } from './collection';
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
void _notificationSignature;

export { collectionWorkflow, invoiceWorkflow, notificationDeliveryWorkflow, subscriptionWorkflow };
