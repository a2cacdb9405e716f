/**
 * When a failed webhook delivery is tried again: exponential backoff from 30 seconds (×2 per attempt, at
 * most 6 hours apart), for up to three days after the first attempt. Pure (workflow-safe).
 */

export const FIRST_RETRY_MS = 30_000;
export const MAX_RETRY_INTERVAL_MS = 6 * 3600_000;
export const RETRY_WINDOW_MS = 3 * 24 * 3600_000;

/**
 * The wait before attempt `attempt + 1`, `attempt` (1-based) having just failed `elapsedMs` after the first
 * attempt started; null when the next attempt would fall outside the three-day window (give up).
 */
export function retryDelayMs(attempt: number, elapsedMs: number): number | null {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`invalid attempt ${attempt}`);
  const delay = Math.min(FIRST_RETRY_MS * 2 ** Math.min(attempt - 1, 30), MAX_RETRY_INTERVAL_MS);
  return elapsedMs + delay > RETRY_WINDOW_MS ? null : delay;
}
