// Workflow entry points for the worker bundle.
import type { CollectionWorkflow, InvoiceWorkflow, SubscriptionWorkflow } from './definitions';
import { collectionWorkflow } from './collection';
import { invoiceWorkflow } from './invoice';
import { subscriptionWorkflow } from './subscription';

// the API and the activities start the workflows by these signatures (definitions.ts) without importing them
const _signature: SubscriptionWorkflow = subscriptionWorkflow;
const _invoiceSignature: InvoiceWorkflow = invoiceWorkflow;
void _signature;
void _invoiceSignature;
const _collectionSignature: CollectionWorkflow = collectionWorkflow;
void _collectionSignature;

export { collectionWorkflow, invoiceWorkflow, subscriptionWorkflow };
