/** The Temporal client used by the API (starting, signalling and querying subscription workflows). */
import { Client, Connection } from '@temporalio/client';
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

export async function connectTemporal(config: TemporalConfig, timeoutMs?: number): Promise<TemporalClient> {
  const connection = await retryConnect(
    `Temporal at ${config.TEMPORAL_ADDRESS}`,
    () => Connection.connect({ address: config.TEMPORAL_ADDRESS }),
    timeoutMs,
  );
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  return { connection, client };
}
