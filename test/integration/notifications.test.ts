/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * Issue 12, notifications as signed webhooks: a local receiver verifies every delivery with the
 * `standardwebhooks` library; the deliveries run as real workflows on the time-skipping Temporal server,
 * started by the real dispatcher after the commits that recorded their events.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { startNotificationDispatch, type NotificationDispatch } from '../../src/notifications/dispatch';
import { attemptDelivery } from '../../src/notifications/delivery';
import { parseAllowList } from '../../src/notifications/ssrf';
import { recordEntitlementResets } from '../../src/notifications/resets';
import { evaluateThresholds, flushThresholds } from '../../src/notifications/thresholds';
import { ok, P, defaultPhase, usageRateCard } from '../support/api';
import { createTestApp } from '../support/app';
import { advanceTo, createHarness, DAY, isoOf, month, waitFor, type Harness } from '../support/harness';
import { maybeRecordWorkflowHistory } from '../support/history';

jest.setTimeout(180_000);

// the local receiver listens on 127.0.0.1: allowed for these tests only (read by loadConfig)
process.env.TALLY_WEBHOOK_ALLOWED_HOSTS = '127.0.0.1';

interface Received {
  id: string;
  type: string;
  body: any;
  at: number;
  headers: http.IncomingHttpHeaders;
}

/** A webhook receiver: verifies each request with the channel's secret; answers `failNext` requests 500. */
class Receiver {
  server = http.createServer((req, res) => this.handle(req, res));
  received: Received[] = [];
  rejected: string[] = [];
  failNext = 0;
  secret = '';
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
    return this;
  }
  stop = () => new Promise<void>((r) => this.server.close(() => r()));

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      if (this.failNext > 0) {
        this.failNext--;
        res.writeHead(500).end('receiver down');
        return;
      }
      try {
        const body = new Webhook(this.secret).verify(raw, req.headers as Record<string, string>) as any;
        this.received.push({
          id: String(req.headers['webhook-id']),
          type: body.type,
          body,
          at: Date.now(),
          headers: req.headers,
        });
        res.writeHead(204).end();
      } catch (e) {
        this.rejected.push((e as Error).message);
        res.writeHead(400).end('bad signature');
      }
    });
  }

  of(type: string): Received[] {
    return this.received.filter((r) => r.type === type);
  }
}

/** Polls a synchronous condition (the receiver's log) until it holds. */
const until = <T>(fn: () => T | undefined | false, timeoutMs?: number) =>
  waitFor(() => Promise.resolve(fn()), timeoutMs);

let h: Harness | undefined;
let dispatch: NotificationDispatch | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await dispatch?.stop();
  await h?.close();
  await receiver?.stop();
  h = dispatch = receiver = undefined;
});

async function setUp(opts: Parameters<typeof createHarness>[0] = {}) {
  h = await createHarness(opts);
  dispatch = startNotificationDispatch({ ...h.app.deps, temporal: h.env.client }, { sweepMs: 1000 });
  receiver = await new Receiver().start();
  const channel = await ok(
    h.app.api.post(`${P}/notification/channels`).send({
      type: 'webhook',
      name: 'Receiver',
      url: receiver.url,
      custom_headers: { 'x-tenant': 'acme' },
    }),
    201,
  );
  expect(channel.signing_secret).toMatch(/^whsec_/);
  receiver.secret = channel.signing_secret;
  return { h, receiver, channel };
}

const rule = (h: Harness, channelId: string, type: string, extra: Record<string, unknown> = {}) =>
  ok(
    h.app.api.post(`${P}/notification/rules`).send({ type, name: type, channels: [channelId], ...extra }),
    201,
  );

/** a plan `metered` whose rate card `calls` grants a metered entitlement of `limit` calls per month */
async function meteredEntitlementPlan(
  h: Harness,
  key = 'metered',
  limit = 10,
  entitlement: Record<string, unknown> = {},
) {
  const meter = await ok(
    h.app.api
      .post(`${P}/meters`)
      .send({ key: 'calls', name: 'Calls', aggregation: 'count', event_type: 'call' }),
    201,
  );
  const feature = await ok(
    h.app.api.post(`${P}/features`).send({ key: 'calls', name: 'Calls', meter: { id: meter.id } }),
    201,
  );
  const plan = async (k: string) => {
    const p = await ok(
      h.app.api.post(`${P}/plans`).send({
        key: k,
        name: `Plan ${k}`,
        currency: 'USD',
        billing_cadence: 'P1M',
        phases: defaultPhase([
          usageRateCard({
            featureId: feature.id,
            price: '0.1',
            entitlement: { type: 'metered', limit, ...entitlement },
          }),
        ]),
      }),
      201,
    );
    return ok(h.app.api.post(`${P}/plans/${p.id}/publish`), 200);
  };
  await plan(key);
  return { feature, plan };
}

async function ingest(h: Harness, subject: string, n: number, time: Date) {
  const events = Array.from({ length: n }, (_, i) => ({
    specversion: '1.0',
    id: `${subject}-${time.getTime()}-${i}-${Math.random()}`,
    source: 'notifications-test',
    type: 'call',
    subject,
    time: time.toISOString(),
    data: {},
  }));
  await ok(
    h.app.api.post(`${P}/events`).set('Content-Type', 'application/cloudevents-batch+json').send(events),
    202,
  );
}

describe('webhook channels and SSRF', () => {
  it('refuses loopback, private and link-local URLs unless allow-listed; the secret is write-only', async () => {
    const app = await createTestApp({ config: { TALLY_WEBHOOK_ALLOWED_HOSTS: '' } });
    try {
      for (const url of [
        'http://127.0.0.1:8080/x',
        'http://localhost/x',
        'http://10.1.2.3/x',
        'http://192.168.1.1/x',
        'http://172.16.0.5/x',
        'http://169.254.169.254/latest/meta-data',
        'http://[::1]/x',
        'http://[fe80::1]/x',
        'http://[::ffff:127.0.0.1]/x',
        'http://0.0.0.0/x',
        'ftp://example.com/x',
      ]) {
        const res = await app.api
          .post(`${P}/notification/channels`)
          .send({ type: 'webhook', name: 'x', url });
        expect([url, res.status]).toEqual([url, 400]);
        expect(res.body.invalid_parameters[0].field).toBe('body.url');
      }
    } finally {
      await app.close();
    }
    const allowed = await createTestApp({ config: { TALLY_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1,10.0.0.0/8' } });
    try {
      const c = await ok(
        allowed.api
          .post(`${P}/notification/channels`)
          .send({ type: 'webhook', name: 'x', url: 'http://10.9.9.9/x' }),
        201,
      );
      expect(c.signing_secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
      const got = await ok(allowed.api.get(`${P}/notification/channels/${c.id}`), 200);
      expect(got).not.toHaveProperty('signing_secret');
      const list = await ok(allowed.api.get(`${P}/notification/channels`), 200);
      expect(list.data.map((x: any) => x.signing_secret)).toEqual([undefined]);
      // a given secret is kept; reserved headers are refused
      const bad = await allowed.api.post(`${P}/notification/channels`).send({
        type: 'webhook',
        name: 'x',
        url: 'http://127.0.0.1/x',
        custom_headers: { 'webhook-signature': 'forged' },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.invalid_parameters[0].field).toBe('body.custom_headers.webhook-signature');
      // still 400 outside the allow-list
      const priv = await allowed.api
        .post(`${P}/notification/channels`)
        .send({ type: 'webhook', name: 'x', url: 'http://192.168.0.1/' });
      expect(priv.status).toBe(400);
    } finally {
      await allowed.close();
    }
  });

  it('refuses at delivery, after DNS resolution, a URL that resolves to a refused address', async () => {
    const { h, receiver, channel } = await setUp();
    await rule(h, channel.id, 'subscription.created');
    await dispatch!.stop(); // this test drives the delivery activity itself
    const { feature } = await meteredEntitlementPlan(h);
    void feature;
    await ok(h.app.api.post(`${P}/customers`).send({ key: 'acme', name: 'Acme', currency: 'USD' }), 201);
    await ok(
      h.app.api.post(`${P}/subscriptions`).send({ customer: { key: 'acme' }, plan: { key: 'metered' } }),
      201,
    );
    const [d] = await h.app.deps.orm.em
      .fork()
      .execute<any[]>('select id, generation from notification_deliveries');
    // the worker's allow-list no longer has 127.0.0.1 (e.g. the operator removed it)
    const r = await attemptDelivery(
      h.app.deps.orm.em.fork(),
      { deliveryId: d.id, generation: d.generation, attempt: 1, startedAt: new Date().toISOString() },
      parseAllowList(''),
    );
    expect(r.result).toBe('stop');
    const [row] = await h.app.deps.orm.em
      .fork()
      .execute<any[]>('select state, reason from notification_deliveries');
    expect(row.state).toBe('failed');
    expect(row.reason).toMatch(/resolves to 127\.0\.0\.1/);
    expect(receiver.received).toHaveLength(0);
  });
});

describe('events delivered as signed webhooks', () => {
  it('delivers each event type once, signed, with the resource view; invoice.updated at every status change', async () => {
    const { h, receiver, channel } = await setUp();
    for (const t of [
      'invoice.created',
      'invoice.updated',
      'subscription.created',
      'subscription.changed',
      'subscription.canceled',
    ])
      await rule(h, channel.id, t);
    const { plan } = await meteredEntitlementPlan(h);
    await plan('pro');
    await ok(h.app.api.post(`${P}/customers`).send({ key: 'acme', name: 'Acme', currency: 'USD' }), 201);
    const sub = await ok(
      h.app.api.post(`${P}/subscriptions`).send({ customer: { key: 'acme' }, plan: { key: 'metered' } }),
      201,
    );
    const created = await until(() => receiver.of('subscription.created')[0]);
    expect(created.body.data).toMatchObject({ id: sub.id, status: 'active', plan: { key: 'metered' } });
    expect(created.headers['x-tenant']).toBe('acme');
    expect(created.id).toBe(created.body.id);

    // the first period closes: draft (created), issued and paid (updated), by the invoice workflow's activities
    const a = Date.parse(sub.active_from);
    await advanceTo(h, month(a, 1) + 120_000, [sub.id]);
    await until(() => receiver.of('invoice.updated').some((r) => r.body.data.status === 'paid'));
    const [invCreated] = receiver.of('invoice.created');
    expect(invCreated.body.data).toMatchObject({
      status: 'draft',
      subscription: { id: sub.id },
      customer: { key: 'acme' },
    });
    expect(receiver.of('invoice.updated').map((r) => r.body.data.status)).toEqual(['issued', 'paid']);

    await ok(
      h.app.api
        .post(`${P}/subscriptions/${sub.id}/change`)
        .send({ plan: { key: 'pro' }, timing: 'immediate' }),
      200,
    );
    const changed = await until(() => receiver.of('subscription.changed')[0]);
    expect(changed.body.data).toMatchObject({ id: sub.id, plan: { key: 'pro' } });
    await ok(h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' }), 200);
    const canceled = await until(() => receiver.of('subscription.canceled')[0]);
    expect(canceled.body.data).toMatchObject({ id: sub.id, status: 'inactive' });

    // give any duplicate time to show up, then: every event exactly once, every signature valid
    await new Promise((r) => setTimeout(r, 1500));
    await dispatch!.kick();
    const ids = receiver.received.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(receiver.rejected).toEqual([]);
    const events = await ok(h.app.api.get(`${P}/notification/events`), 200);
    expect(events.meta.page.total).toBe(ids.length);
    for (const e of events.data) {
      expect(e.delivery_status).toEqual([
        expect.objectContaining({
          channel: expect.objectContaining({ id: channel.id }),
          state: 'success',
          attempt_count: 1,
        }),
      ]);
      expect(ids).toContain(e.id);
    }
  });

  it('retries with backoff after the receiver fails, then succeeds; resend delivers the same webhook-id again', async () => {
    const { h, receiver, channel } = await setUp();
    await rule(h, channel.id, 'subscription.created');
    await meteredEntitlementPlan(h);
    await ok(h.app.api.post(`${P}/customers`).send({ key: 'acme', name: 'Acme', currency: 'USD' }), 201);
    receiver.failNext = 3;
    await ok(
      h.app.api.post(`${P}/subscriptions`).send({ customer: { key: 'acme' }, plan: { key: 'metered' } }),
      201,
    );
    const status = async () => (await ok(h.app.api.get(`${P}/notification/events`), 200)).data[0];
    const first = await waitFor(async () => {
      const e = await status();
      return e?.delivery_status[0]?.attempt_count === 1 && e;
    });
    expect(first.delivery_status[0]).toMatchObject({
      state: 'pending',
      last_response: { status_code: 500, body: 'receiver down' },
    });
    expect(Date.parse(first.delivery_status[0].next_attempt)).toBeGreaterThan(Date.now() - 60_000);
    // 30 s, 60 s, 120 s: the backoff is slept in workflow time (skipped)
    const wf = h.env.client.workflow.getHandle(
      `notification-delivery-${(await h.app.deps.orm.em.fork().execute<any[]>('select id from notification_deliveries'))[0].id}-1`,
    );
    expect(await wf.result()).toBe('success');
    const done = await status();
    expect(done.delivery_status[0]).toMatchObject({ state: 'success', attempt_count: 4 });
    expect(done.delivery_status[0].attempts.map((x: any) => x.state)).toEqual([
      'failed',
      'failed',
      'failed',
      'success',
    ]);
    const gaps = done.delivery_status[0].attempts
      .map((x: any) => Date.parse(x.timestamp))
      .map((t: number, i: number, all: number[]) => (i ? t - all[i - 1] : 0))
      .slice(1);
    expect(gaps[0]).toBeGreaterThanOrEqual(30_000);
    expect(gaps[1]).toBeGreaterThanOrEqual(60_000);
    expect(gaps[2]).toBeGreaterThanOrEqual(120_000);
    expect(receiver.received).toHaveLength(1);

    await h.app.api.post(`${P}/notification/events/${done.id}/resend`).expect(202);
    await until(() => receiver.received.length === 2);
    expect(receiver.received[1].id).toBe(receiver.received[0].id);
    const after = await status();
    expect(after.delivery_status[0]).toMatchObject({ state: 'success', attempt_count: 5 });
    const missing = await h.app.api.post(`${P}/notification/events/01ARZ3NDEKTSV4RRFFQ69G5FAV/resend`);
    expect(missing.status).toBe(404);
  });

  it('stops retrying once the channel is disabled', async () => {
    const { h, receiver, channel } = await setUp();
    await rule(h, channel.id, 'subscription.created');
    await meteredEntitlementPlan(h);
    await ok(h.app.api.post(`${P}/customers`).send({ key: 'acme', name: 'Acme', currency: 'USD' }), 201);
    receiver.failNext = 1000;
    await ok(
      h.app.api.post(`${P}/subscriptions`).send({ customer: { key: 'acme' }, plan: { key: 'metered' } }),
      201,
    );
    const [d] = await waitFor(async () => {
      const rows = await h.app.deps.orm.em
        .fork()
        .execute<any[]>('select id, attempts from notification_deliveries');
      return rows[0]?.attempts >= 1 && rows;
    });
    await ok(
      h.app.api
        .put(`${P}/notification/channels/${channel.id}`)
        .send({ type: 'webhook', name: 'Receiver', url: receiver.url, disabled: true }),
      200,
    );
    const wf = h.env.client.workflow.getHandle(`notification-delivery-${d.id}-1`);
    expect(await wf.result()).toBe('stop');
    const [row] = await h.app.deps.orm.em
      .fork()
      .execute<any[]>('select state, reason, attempts from notification_deliveries');
    expect(row).toMatchObject({ state: 'failed', reason: 'channel disabled' });
    const attemptsWhenDisabled = row.attempts;
    expect(receiver.received).toHaveLength(0);
    // nothing more reaches the receiver
    await h.env.sleep(3 * DAY);
    const [later] = await h.app.deps.orm.em
      .fork()
      .execute<any[]>('select attempts from notification_deliveries');
    expect(later.attempts).toBe(attemptsWhenDisabled);
  });

  it('gives up after three days of failures', async () => {
    const { h, receiver, channel } = await setUp();
    await rule(h, channel.id, 'subscription.created');
    await meteredEntitlementPlan(h);
    await ok(h.app.api.post(`${P}/customers`).send({ key: 'acme', name: 'Acme', currency: 'USD' }), 201);
    receiver.failNext = 1000;
    await ok(
      h.app.api.post(`${P}/subscriptions`).send({ customer: { key: 'acme' }, plan: { key: 'metered' } }),
      201,
    );
    const [d] = await waitFor(async () => {
      const rows = await h.app.deps.orm.em
        .fork()
        .execute<any[]>('select id from notification_deliveries where dispatched_at is not null');
      return rows.length > 0 && rows;
    });
    const handle = h.env.client.workflow.getHandle(`notification-delivery-${d.id}-1`);
    expect(await handle.result()).toBe('stop');
    const [row] = await h.app.deps.orm.em
      .fork()
      .execute<any[]>('select state, reason, attempts from notification_deliveries');
    expect(row.state).toBe('failed');
    expect(row.reason).toMatch(/gave up/);
    // in workflow time: from the first attempt to the last
    const run = await handle.describe();
    const elapsed = run.closeTime!.getTime() - run.startTime.getTime();
    expect(elapsed).toBeLessThanOrEqual(3 * DAY);
    expect(elapsed).toBeGreaterThan(2 * DAY);
    expect(row.attempts).toBeGreaterThan(10);
  });
});

describe('entitlements.balance.threshold', () => {
  it('fires once per threshold per usage period, within 10 s of the ingest that reached it', async () => {
    const { h, receiver, channel } = await setUp();
    await rule(h, channel.id, 'entitlements.balance.threshold', {
      features: ['calls'],
      thresholds: [
        { type: 'percent', value: '80' },
        { type: 'percent', value: '100' },
      ],
    });
    await meteredEntitlementPlan(h, 'metered', 10);
    await ok(
      h.app.api.post(`${P}/customers`).send({
        key: 'acme',
        name: 'Acme',
        currency: 'USD',
        usage_attribution: { subject_keys: ['acme-gw'] },
      }),
      201,
    );
    const sub = await ok(
      h.app.api.post(`${P}/subscriptions`).send({ customer: { key: 'acme' }, plan: { key: 'metered' } }),
      201,
    );
    const now = new Date(Date.now() + 1000);
    await ingest(h, 'acme-gw', 7, now);
    await flushThresholds(h.app.deps);
    expect(receiver.of('entitlements.balance.threshold')).toHaveLength(0);

    const t80 = Date.now();
    await ingest(h, 'acme-gw', 1, now); // 8 of 10: 80 %
    const at80 = await until(() => receiver.of('entitlements.balance.threshold')[0], 10_000);
    expect(at80.at - t80).toBeLessThan(10_000);
    expect(at80.body.data).toMatchObject({
      threshold: { type: 'percent', value: '80' },
      feature: { key: 'calls' },
      customer: { key: 'acme' },
      value: { usage: '8', balance: '2' },
      entitlement: { subscription_id: sub.id, limit: '10' },
    });
    await ingest(h, 'acme-gw', 1, now); // 9: nothing new
    await flushThresholds(h.app.deps);
    await ingest(h, 'acme-gw', 3, now); // 12: 100 % (once, though past it)
    await until(() => receiver.of('entitlements.balance.threshold').length === 2, 10_000);
    await ingest(h, 'acme-gw', 5, now);
    await flushThresholds(h.app.deps);
    await new Promise((r) => setTimeout(r, 1000));
    expect(receiver.of('entitlements.balance.threshold').map((r) => r.body.data.threshold.value)).toEqual([
      '80',
      '100',
    ]);

    // the next usage period starts over: both thresholds once more
    const next = new Date(Date.parse(sub.current_period.to) + 3600_000);
    await ingest(h, 'acme-gw', 10, next);
    expect(await evaluateThresholds(h.app.deps, ['acme-gw'], next)).toBe(2);
    expect(await evaluateThresholds(h.app.deps, ['acme-gw'], next)).toBe(0);
    await until(() => receiver.of('entitlements.balance.threshold').length === 4, 10_000);
    const marks = await h.app.deps.orm.em
      .fork()
      .execute<any[]>('select count(*)::int as n from notification_threshold_marks');
    expect(marks[0].n).toBe(4);
  });
});

describe('entitlements.reset', () => {
  it('fires once per metered entitlement per usage-period rollover, across retries and a worker restart', async () => {
    // no sticky cache: the time-skipping server never hands a replaced worker's sticky tasks back
    const { h, receiver, channel } = await setUp({ maxCachedWorkflows: 0 });
    await rule(h, channel.id, 'entitlements.reset', { features: ['calls'] });
    // a rule for another feature: never selected
    await rule(h, channel.id, 'entitlements.reset', { features: ['other'] });
    // a daily usage period on a monthly plan: the resets do not follow the billing periods
    await meteredEntitlementPlan(h, 'metered', 10, { usage_period: 'P1D' });
    await ok(h.app.api.post(`${P}/customers`).send({ key: 'acme', name: 'Acme', currency: 'USD' }), 201);
    const sub = await ok(
      h.app.api.post(`${P}/subscriptions`).send({ customer: { key: 'acme' }, plan: { key: 'metered' } }),
      201,
    );
    const a = Date.parse(sub.active_from);
    await ingest(h, 'acme', 3, new Date(a + 1000));
    // the subscription's start is no reset
    await new Promise((r) => setTimeout(r, 1000));
    expect(receiver.of('entitlements.reset')).toHaveLength(0);

    // the first day ends: one reset, for the new period, with OpenMeter's payload
    await advanceTo(h, a + DAY + 60_000, [sub.id], DAY);
    const first = await until(() => receiver.of('entitlements.reset')[0]);
    expect(first.body.data).toMatchObject({
      entitlement: {
        subscription_id: sub.id,
        feature_key: 'calls',
        usage_period: 'P1D',
        current_usage_period: { from: isoOf(a + DAY), to: isoOf(a + 2 * DAY) },
        limit: '10',
      },
      feature: { key: 'calls' },
      customer: { key: 'acme' },
      subject: { key: 'acme' },
      value: { usage: '0', balance: '10', has_access: true },
    });
    expect(first.id).toBe(first.body.id);

    // a retried activity and a restarted worker record nothing twice
    const retry = await recordEntitlementResets(h.app.deps.orm.em.fork(), {
      subscriptionId: sub.id,
      customerId: sub.customer_id,
      at: isoOf(a + DAY + 60_000),
    });
    expect(retry).toEqual({ recorded: 0, nextResetAt: isoOf(a + 2 * DAY) });
    await h.restartWorker();
    await advanceTo(h, a + 3 * DAY + 60_000, [sub.id], DAY);
    await until(() => receiver.of('entitlements.reset').length === 3);
    await new Promise((r) => setTimeout(r, 1500));
    const resets = receiver.of('entitlements.reset');
    expect(resets.map((r) => r.body.data.entitlement.current_usage_period.from)).toEqual([
      isoOf(a + DAY),
      isoOf(a + 2 * DAY),
      isoOf(a + 3 * DAY),
    ]);
    expect(new Set(resets.map((r) => r.id)).size).toBe(3);
    const marks = await h.app.deps.orm.em
      .fork()
      .execute<any[]>('select count(*)::int as n from notification_reset_marks');
    expect(marks[0].n).toBe(3);
    const events = await ok(h.app.api.get(`${P}/notification/events?filter[type]=entitlements.reset`), 200);
    expect(events.meta.page.total).toBe(3);
    await maybeRecordWorkflowHistory(h, `entitlement-resets-${sub.id}`, 'entitlement-resets-daily');
  });
});
