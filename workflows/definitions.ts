/**
 * The subscription workflow's message definitions, shared by the workflow and the API (which sends the
 * Updates and Queries). No workflow-only calls here, so it is safe to import outside the sandbox.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { PlanSchedule, SubscriptionState, SubscriptionView, Timing } from '../src/subscriptions/machine';

/**
 * The subscription workflow's signature, for `client.workflow.start<SubscriptionWorkflow>(...)`: the API
 * names it here instead of importing the workflow (and through it the activities); workflows/index.ts
 * checks that the workflow matches it.
 */
export type SubscriptionWorkflow = (state: SubscriptionState) => Promise<SubscriptionView>;

export interface CancelArgs {
  timing: Timing;
}
export interface ChangeArgs {
  timing: Timing;
  /** the target plan version, resolved and checked (active) by the API */
  plan: PlanSchedule;
}

export const cancelUpdate = defineUpdate<SubscriptionView, [CancelArgs]>('cancel');
export const changeUpdate = defineUpdate<SubscriptionView, [ChangeArgs]>('change');
export const migrateUpdate = defineUpdate<SubscriptionView, [ChangeArgs]>('migrate');
export const getStateQuery = defineQuery<SubscriptionView>('getState');

/** ApplicationFailure types of rejected requests; the API maps them to 400 and 409. */
export const REJECTION_TYPES = { bad_request: 'BadRequest', conflict: 'Conflict' } as const;
