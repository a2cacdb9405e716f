// Workflow entry points for the worker bundle.
import type { InvoiceWorkflow, SubscriptionWorkflow } from './definitions';
import { invoiceWorkflow } from './invoice';
import { subscriptionWorkflow } from './subscription';

// the API and the activities start the workflows by these signatures (definitions.ts) without importing them
const _signature: SubscriptionWorkflow = subscriptionWorkflow;
const _invoiceSignature: InvoiceWorkflow = invoiceWorkflow;
void _signature;
void _invoiceSignature;

export { invoiceWorkflow, subscriptionWorkflow };
