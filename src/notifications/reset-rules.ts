/**
 * `entitlements.reset`, pure: whether a metered entitlement's current usage period began with a rollover.
 * It did when it starts after the subscription's start (the first period is no reset), not before the
 * current phase's start (a period already running when the entitlement began is no reset), and by `at`.
 */
export function isRollover(
  period: { from: string } | undefined,
  activeFrom: Date,
  phaseStartedAt: Date,
  at: Date,
): boolean {
  if (!period) return false;
  const from = new Date(period.from);
  return from > activeFrom && from >= phaseStartedAt && from <= at;
}
