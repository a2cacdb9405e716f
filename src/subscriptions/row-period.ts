/**
 * The current period of a subscription row at `now`. The workflow records a plain rollover (nothing changes
 * at the boundary) only with the invoice, once the collection period has passed, and leaves
 * `next_period_end` on the row meanwhile; this rolls the recorded period forward over that window.
 */
export interface RowPeriod {
  current_period_start: Date | string | null;
  current_period_end: Date | string | null;
  next_period_end?: Date | string | null;
}

export function currentPeriodOf(row: RowPeriod, now: Date): { from: Date; to: Date } | undefined {
  if (!row.current_period_start || !row.current_period_end) return undefined;
  const from = new Date(row.current_period_start);
  const to = new Date(row.current_period_end);
  if (now >= to && row.next_period_end) return { from: to, to: new Date(row.next_period_end) };
  return { from, to };
}
