/** The Temporal client used by the API (starting, signalling and querying subscription workflows). */
import {
  Client,
  Connection,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type ConnectionOptions,
} from '@temporalio/client';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import type { Config } from '../config';
import { logger } from '../lib/logger';

export interface TemporalClient {
  connection: Connection;
  client: Client;
}

type TemporalConfig = Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>;

/**
 * Retries `connect` until it succeeds or `timeoutMs` passes, so that processes started together with
 * Temporal (docker compose, `npm start`) wait for the server instead of crashing.
 */
export async function retryConnect<T>(
  what: string,
  connect: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new Error(`could not connect to ${what} within ${timeoutMs} ms: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (attempt === 1 || attempt % 10 === 0) {
        logger.warn({ err: (err as Error).message }, `waiting for ${what}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * Deadline of each short API call to Temporal (start, signal, query, describe...). The long polls that wait
 * for a workflow (an Update's outcome, a workflow's result) keep the server's own long-poll bound.
 */
export const TEMPORAL_CALL_TIMEOUT_MS = 4000;
/** attempts of a call that fails with a retryable status (UNAVAILABLE...): ~0.6 s in all, not the SDK's ~20 s */
export const TEMPORAL_CALL_ATTEMPTS = 3;

/**
 * How long the API waits for a subscription workflow to take an Update (cancel, change, migrate) and
 * answer it, across all the calls the SDK makes for it; then it answers 503 (the Update may still be
 * applied later: the subscription shows it).
 */
export const TEMPORAL_UPDATE_TIMEOUT_MS = 10_000;

/** runs `fn` (calls through `client`) with one deadline `ms` from now for all of its Temporal calls */
export function withTemporalDeadline<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  return client.connection.withDeadline(Date.now() + ms, fn);
}

const LONG_POLLS = new Set([
  'UpdateWorkflowExecution',
  'PollWorkflowExecutionUpdate',
  'GetWorkflowExecutionHistory',
]);

/** gives every call that has no deadline yet (and is not a long poll) one of `timeoutMs` from now */
export function deadlineInterceptor(timeoutMs: number): Interceptor {
  return (options, nextCall) => {
    const method = options.method_definition.path.split('/').pop() ?? '';
    if (options.deadline === undefined && !LONG_POLLS.has(method)) {
      return new InterceptingCall(nextCall({ ...options, deadline: Date.now() + timeoutMs }));
    }
    return new InterceptingCall(nextCall(options));
  };
}

/**
 * How the API talks to Temporal: with Temporal unreachable a request fails within a few seconds (the API
 * answers 503) instead of retrying for ~20 s. The deadline interceptor comes first so that one deadline
 * bounds all retry attempts of a call.
 */
export function apiConnectionOptions(address: string): ConnectionOptions {
  return {
    address,
    connectTimeout: TEMPORAL_CALL_TIMEOUT_MS,
    interceptors: [
      deadlineInterceptor(TEMPORAL_CALL_TIMEOUT_MS),
      makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: TEMPORAL_CALL_ATTEMPTS })),
    ],
  };
}

export async function connectTemporal(config: TemporalConfig, timeoutMs?: number): Promise<TemporalClient> {
  const connection = await retryConnect(
    `Temporal at ${config.TEMPORAL_ADDRESS}`,
    () => Connection.connect(apiConnectionOptions(config.TEMPORAL_ADDRESS)),
    timeoutMs,
  );
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  return { connection, client };
}
