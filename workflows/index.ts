// Workflow entry point for the worker bundle.
import type { SubscriptionWorkflow } from './definitions';
import { subscriptionWorkflow } from './subscription';

// the API starts the workflow by this signature (definitions.ts) without importing it
const _signature: SubscriptionWorkflow = subscriptionWorkflow;
void _signature;

export { subscriptionWorkflow };
