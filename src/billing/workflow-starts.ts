/**
 * Starting billing's workflows, shared by the activities and the API: an invoice's workflow (once, by id)
 * and the customer's collection workflow (signal-with-start: started when it is not running).
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { SA_CUSTOMER_KEY, SA_INVOICE_STATUS } from '../temporal/search-attributes';
import {
  collectionWorkflowId,
  collectSignal,
  type CollectionWorkflow,
  type InvoiceWorkflow,
} from '../../workflows/definitions';
import type { DraftRef, SyncHooks } from './contract';

export const invoiceWorkflowId = (invoiceId: string) => `invoice-${invoiceId}`;

/** Starts the draft's `invoice-<id>` workflow; false when it was started before. */
export async function startInvoiceWorkflow(
  client: Client,
  taskQueue: string,
  draft: DraftRef,
  /** the payment app's sync hooks (custom invoicing, src/apps/state.ts `syncHooksOf`) */
  syncHooks?: SyncHooks,
  /**
   * eager start: the server hands the workflow's first task straight back to this worker (no trip through
   * the task queue). Only with the worker's own client (an activity's `Context.current().client`, on the
   * worker's NativeConnection); the SDK refuses it on another connection.
   */
  eager = false,
): Promise<boolean> {
  try {
    await client.workflow.start<InvoiceWorkflow>('invoiceWorkflow', {
      taskQueue,
      ...(eager ? { requestEagerStart: true } : {}),
      workflowId: invoiceWorkflowId(draft.invoiceId),
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [
        {
          invoiceId: draft.invoiceId,
          customerKey: draft.customerKey,
          lifecycle: draft.lifecycle,
          draftUntil: draft.draftUntil,
          ...(syncHooks ? { syncHooks } : {}),
        },
      ],
      typedSearchAttributes: [
        { key: SA_CUSTOMER_KEY, value: draft.customerKey },
        { key: SA_INVOICE_STATUS, value: 'draft' },
      ],
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

/** Tells the customer's collection workflow (starting it when needed) that a line is due at `at`. */
export async function signalCollection(
  client: Client,
  taskQueue: string,
  customerId: string,
  at: string,
): Promise<void> {
  await client.workflow.signalWithStart<CollectionWorkflow, [{ at: string }]>('collectionWorkflow', {
    taskQueue,
    workflowId: collectionWorkflowId(customerId),
    args: [{ customerId, due: [] }],
    signal: collectSignal,
    signalArgs: [{ at }],
  });
}
