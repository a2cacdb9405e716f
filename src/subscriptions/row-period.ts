/**
 * The current period of a subscription row at `now`. The workflow records a rollover at the period end
 * (with the hand-over); until that write lands (a busy or restarting worker) `next_period_end` on the row
 * names the next period, and this rolls the recorded period forward over that window.
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
