/**
 * Durability: a worker that dies mid-period, and an invoice activity that fails after it wrote, must still
 * bill each period exactly once.
 */
import {
  advanceTo,
  createHarness,
  subscribeMetered,
  DAY,
  invoicesOf,
  settle,
  waitFor,
  type Harness,
  isoOf,
  month,
} from '../support/harness';
import { maybeRecordHistory } from '../support/history';

// a worker is killed and replaced: seconds alone, more while the full suite shares the cores
jest.setTimeout(300_000);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

it('a worker killed mid-period is replaced; the new one resumes the sleeping workflow and bills once', async () => {
  // no sticky cache: a real server moves a dead worker's sticky tasks back to the shared queue after a
  // timeout, which the time-skipping server never does
  h = await createHarness({ maxCachedWorkflows: 0 });
  const { f, sub, a } = await subscribeMetered(h);
  await advanceTo(h, a + 12 * DAY, [sub.id]);
  await h.stopWorker();
  // a fresh Worker: no cached workflow state, it replays the history. It caches again (the SDK default): its
  // sticky queue stays served, and with no cache the invoice's local activity is dropped at each eviction
  // (the SDK warns so), every workflow task timing out after 10 s (a minute alone, past 5 under load)
  await h.restartWorker(undefined, { maxCachedWorkflows: undefined });
  await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
  const invs = await waitFor(async () => {
    const l = await invoicesOf(h!.app, sub.id);
    return l.length >= 1 && l;
  });
  await settle(h, [sub.id]);
  expect((await invoicesOf(h.app, sub.id)).length).toBe(1);
  expect(invs[0]).toMatchObject({ from: isoOf(a), to: isoOf(month(a, 1)), total: '0.30' });
  expect((await f.get(sub.id)).current_period.from).toBe(isoOf(month(a, 1)));
});

it('an invoice activity that fails after writing is retried without issuing a duplicate', async () => {
  let attempts = 0;
  h = await createHarness({
    activities: (real) => ({
      ...real,
      async handOverInvoice(input) {
        attempts++;
        const ref = await real.handOverInvoice(input);
        if (attempts === 1) throw new Error('connection lost after the invoice was written');
        return ref;
      },
    }),
  });
  const { sub, a } = await subscribeMetered(h);
  await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
  await waitFor(() => Promise.resolve(attempts >= 2), 30_000);
  await settle(h, [sub.id]);
  const invs = await invoicesOf(h.app, sub.id);
  expect(attempts).toBe(2);
  expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([[isoOf(a), isoOf(month(a, 1)), '0.30']]);
});

it('an invoice whose local try fails is tried again, after a backoff, as a (remote) activity: bounded history, one invoice', async () => {
  let attempts = 0;
  h = await createHarness({
    activities: (real) => ({
      ...real,
      async handOverInvoice(input) {
        attempts++;
        // the first try's one local attempt and the second try's first two remote attempts fail; the
        // second try's third attempt succeeds
        if (attempts <= 3) throw new Error(`billing database unavailable (attempt ${attempts})`);
        return real.handOverInvoice(input);
      },
    }),
  });
  const { sub, a } = await subscribeMetered(h);
  await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
  await waitFor(() => Promise.resolve(attempts >= 4), 30_000);
  await settle(h, [sub.id]);
  const invs = await invoicesOf(h.app, sub.id);
  expect(attempts).toBe(4);
  expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([[isoOf(a), isoOf(month(a, 1)), '0.30']]);
  const history = await h.env.client.workflow.getHandle(`subscription-${sub.id}`).fetchHistory();
  const remote = (history.events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'handOverInvoice',
  );
  expect(remote).toHaveLength(1);
  expect(history.events?.length ?? 0).toBeLessThan(60);
  await maybeRecordHistory(h, sub.id, 'subscription-invoice-fallback');
});
