/**
 * Starts the delivery workflows. Told by the outbox after each commit that recorded events (an ORM
 * `afterTransactionCommit` subscriber), it starts one workflow per undispatched delivery
 * (`notification-delivery-<id>-<generation>`, REJECT_DUPLICATE: started once, whichever process gets there
 * first) and marks it dispatched. A sweeper does the same every `TALLY_NOTIFICATION_SWEEP_S` seconds, so a
 * delivery whose process died between its commit and the start is started anyway: nothing is lost.
 *
 * The API and the worker each run one (`startNotificationDispatch`); they may race, the workflow id decides.
 */
import type { EventSubscriber, TransactionEventArgs } from '@mikro-orm/core';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { AppDeps } from '../deps';
import { exec, Sql } from '../db/sql';
import type { NotificationDeliveryWorkflow } from '../../workflows/definitions';
import { onEventsCommitted, transactionCommitted } from './outbox';

export const deliveryWorkflowId = (deliveryId: string, generation: number) =>
  `notification-delivery-${deliveryId}-${generation}`;

const BATCH = 100;

export interface NotificationDispatch {
  /** dispatches what is pending now (resolves when done) */
  kick(): Promise<void>;
  stop(): Promise<void>;
}

export function startNotificationDispatch(
  deps: Pick<AppDeps, 'orm' | 'config' | 'logger'> & { temporal: Client },
  opts: { sweepMs?: number } = {},
): NotificationDispatch {
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;

  async function once(): Promise<number> {
    const em = deps.orm.em.fork();
    const rows = await exec<{ id: string; generation: number }>(
      em,
      new Sql().add(
        `select id, generation from notification_deliveries
          where dispatched_at is null and state in ('pending', 'resending') order by created_at, id limit ?`,
        BATCH,
      ),
    );
    for (const r of rows) {
      try {
        await deps.temporal.workflow.start<NotificationDeliveryWorkflow>('notificationDeliveryWorkflow', {
          taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
          workflowId: deliveryWorkflowId(r.id, r.generation),
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          args: [{ deliveryId: r.id, generation: r.generation }],
        });
      } catch (e) {
        if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      }
      await exec(
        em,
        new Sql().add(
          'update notification_deliveries set dispatched_at = now() where id = ? and generation = ?',
          r.id,
          r.generation,
        ),
      );
    }
    return rows.length;
  }

  function kick(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          while (!stopped && (await once()) === BATCH);
        } while (again && !stopped);
      } catch (err) {
        // Temporal or the database unavailable: the sweeper tries again
        deps.logger.warn({ err }, 'notification dispatch failed; the sweeper retries');
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  const subscriber: EventSubscriber = {
    afterTransactionCommit(args: TransactionEventArgs) {
      if (!stopped) transactionCommitted(args.transaction);
    },
  };
  deps.orm.em.getEventManager().registerSubscriber(subscriber);
  const off = onEventsCommitted(() => void kick());
  const timer = setInterval(() => void kick(), opts.sweepMs ?? deps.config.TALLY_NOTIFICATION_SWEEP_S * 1000);
  timer.unref();
  void kick();
  return {
    kick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      off();
      await running;
    },
  };
}
