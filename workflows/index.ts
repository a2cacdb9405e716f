// Workflow entry points for the worker bundle.
import type { InvoiceWorkflow, NotificationDeliveryWorkflow, SubscriptionWorkflow } from './definitions';
import { invoiceWorkflow } from './invoice';
import { notificationDeliveryWorkflow } from './notification';
import { subscriptionWorkflow } from './subscription';

// the API and the activities start the workflows by these signatures (definitions.ts) without importing them
const _signature: SubscriptionWorkflow = subscriptionWorkflow;
const _invoiceSignature: InvoiceWorkflow = invoiceWorkflow;
void _signature;
const _notificationSignature: NotificationDeliveryWorkflow = notificationDeliveryWorkflow;
void _invoiceSignature;
void _notificationSignature;

export { invoiceWorkflow, notificationDeliveryWorkflow, subscriptionWorkflow };
