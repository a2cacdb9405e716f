/** Notifications' pure rules: the SSRF address check and allow-list, the retry backoff, balance thresholds. */
import { Webhook } from 'standardwebhooks';
import {
  FIRST_RETRY_MS,
  MAX_RETRY_INTERVAL_MS,
  RETRY_WINDOW_MS,
  retryDelayMs,
} from '../../src/notifications/backoff';
import { signedHeaders } from '../../src/notifications/delivery';
import { isRollover } from '../../src/notifications/reset-rules';
import { newSigningSecret } from '../../src/notifications/service';
import { isForbiddenAddress, parseAllowList, resolveTarget } from '../../src/notifications/ssrf';
import { reachedThresholds, thresholdKey, thresholdUsage } from '../../src/notifications/threshold-rules';

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.10.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'not-an-ip',
  ])('refuses %s', (ip) => expect(isForbiddenAddress(ip)).toBe(true));

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '172.15.255.255',
    '93.184.216.34',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
  ])('accepts %s', (ip) => expect(isForbiddenAddress(ip)).toBe(false));
});

describe('allow-list and resolveTarget', () => {
  it('parses hosts, addresses and CIDR ranges; refuses junk', () => {
    const l = parseAllowList(' 127.0.0.1, Hooks.Internal ,10.0.0.0/8,::1 ');
    expect([...l.hosts]).toEqual(['hooks.internal']);
    expect(l.nets.check('10.20.30.40', 'ipv4')).toBe(true);
    expect(l.nets.check('127.0.0.1', 'ipv4')).toBe(true);
    expect(l.nets.check('127.0.0.2', 'ipv4')).toBe(false);
    expect(l.nets.check('::1', 'ipv6')).toBe(true);
    expect(() => parseAllowList('10.0.0.0/33')).toThrow(/invalid range/);
    expect(() => parseAllowList('http://x')).toThrow(/invalid entry/);
    expect(parseAllowList('').hosts.size).toBe(0);
  });

  it('refuses private literals unless allowed, other schemes and credentials', async () => {
    const none = parseAllowList('');
    expect(await resolveTarget('http://127.0.0.1:9/x', none)).toMatchObject({ ok: false });
    expect(await resolveTarget('http://[::1]/x', none)).toMatchObject({ ok: false });
    expect(await resolveTarget('http://localhost/x', none)).toMatchObject({ ok: false });
    expect(await resolveTarget('file:///etc/passwd', none)).toMatchObject({
      ok: false,
      reason: /http or https/,
    });
    expect(await resolveTarget('https://u:p@8.8.8.8/', none)).toMatchObject({
      ok: false,
      reason: /credentials/,
    });
    expect(await resolveTarget('not a url', none)).toMatchObject({ ok: false });
    expect(await resolveTarget('https://8.8.8.8/hook', none)).toMatchObject({
      ok: true,
      target: { address: '8.8.8.8', family: 4 },
    });
    expect(await resolveTarget('http://127.0.0.1:9/x', parseAllowList('127.0.0.1'))).toMatchObject({
      ok: true,
    });
    expect(await resolveTarget('http://10.1.1.1/x', parseAllowList('10.0.0.0/8'))).toMatchObject({
      ok: true,
    });
    expect(await resolveTarget('http://10.1.1.1/x', parseAllowList('10.0.0.0/16'))).toMatchObject({
      ok: false,
    });
    expect(await resolveTarget('http://localhost/x', parseAllowList('localhost'))).toMatchObject({
      ok: true,
    });
  });
});

describe('retryDelayMs', () => {
  it('doubles from 30 s, at most 6 h apart', () => {
    expect(retryDelayMs(1, 0)).toBe(FIRST_RETRY_MS);
    expect(retryDelayMs(2, 30_000)).toBe(60_000);
    expect(retryDelayMs(3, 90_000)).toBe(120_000);
    expect(retryDelayMs(10, 0)).toBe(FIRST_RETRY_MS * 512);
    expect(retryDelayMs(11, 0)).toBe(MAX_RETRY_INTERVAL_MS);
    expect(retryDelayMs(100, 0)).toBe(MAX_RETRY_INTERVAL_MS);
  });
  it('gives up when the next attempt would fall after three days', () => {
    expect(retryDelayMs(15, RETRY_WINDOW_MS - MAX_RETRY_INTERVAL_MS)).toBe(MAX_RETRY_INTERVAL_MS);
    expect(retryDelayMs(15, RETRY_WINDOW_MS - MAX_RETRY_INTERVAL_MS + 1)).toBeNull();
    expect(retryDelayMs(1, RETRY_WINDOW_MS)).toBeNull();
  });
  it('a whole schedule stays within three days and takes ~20 attempts', () => {
    let elapsed = 0;
    let attempt = 1;
    for (let d = retryDelayMs(attempt, elapsed); d !== null; d = retryDelayMs(++attempt, elapsed))
      elapsed += d;
    expect(elapsed).toBeLessThanOrEqual(RETRY_WINDOW_MS);
    expect(elapsed).toBeGreaterThan(RETRY_WINDOW_MS - MAX_RETRY_INTERVAL_MS);
    expect(attempt).toBeGreaterThan(15);
    expect(attempt).toBeLessThan(25);
  });
  it('refuses a non-positive attempt', () => expect(() => retryDelayMs(0, 0)).toThrow(RangeError));
});

describe('balance thresholds', () => {
  const pct = (value: string) => ({ type: 'percent' as const, value });
  const num = (value: string) => ({ type: 'number' as const, value });
  it.each([
    ['0', '10', []],
    ['7.99', '10', []],
    ['8', '10', ['80']],
    ['9.5', '10', ['80']],
    ['10', '10', ['80', '100']],
    ['1000', '10', ['80', '100']],
  ])('usage %s of limit %s reaches %j', (usage, limit, expected) => {
    expect(reachedThresholds([pct('80'), pct('100')], usage, limit).map((t) => t.value)).toEqual(expected);
  });
  it('percentages need a limit; numbers do not; duplicates count once', () => {
    expect(reachedThresholds([pct('50')], '1000', undefined)).toEqual([]);
    expect(reachedThresholds([num('5'), num('5.0')], '5', undefined)).toEqual([num('5')]);
    expect(thresholdUsage(pct('12.5'), '80')!.toFixed()).toBe('10');
    expect(thresholdKey(num('5.0'))).toBe('number:5');
    expect(thresholdKey(pct('80'))).toBe('percent:80');
  });
});

describe('signing', () => {
  it('signs per Standard Webhooks: the library verifies, a tampered body or another secret fails', () => {
    const secret = newSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = JSON.stringify({ id: 'evt_1', type: 'invoice.created', data: { total: '1.10' } });
    const headers = signedHeaders(secret, 'evt_1', new Date(), body);
    expect(headers['webhook-id']).toBe('evt_1');
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ id: 'evt_1' });
    expect(() => new Webhook(secret).verify(body.replace('1.10', '9.99'), headers)).toThrow();
    expect(() => new Webhook(newSigningSecret()).verify(body, headers)).toThrow();
    const old = signedHeaders(secret, 'evt_1', new Date(Date.now() - 3600_000), body);
    expect(() => new Webhook(secret).verify(body, old)).toThrow(/timestamp/i);
  });
});

describe('entitlement resets (isRollover)', () => {
  const d = (s: string) => new Date(s);
  const start = d('2026-01-01T00:00:00.000Z');
  const cases: [string, { from: string } | undefined, Date, Date, Date, boolean][] = [
    ['no usage period', undefined, start, start, d('2026-02-01T00:00:00Z'), false],
    [
      'the first period',
      { from: '2026-01-01T00:00:00.000Z' },
      start,
      start,
      d('2026-01-01T00:00:01Z'),
      false,
    ],
    [
      'the second period',
      { from: '2026-02-01T00:00:00.000Z' },
      start,
      start,
      d('2026-02-01T00:00:00Z'),
      true,
    ],
    [
      'later, still that period',
      { from: '2026-02-01T00:00:00.000Z' },
      start,
      start,
      d('2026-02-20T00:00:00Z'),
      true,
    ],
    ['not yet begun', { from: '2026-02-01T00:00:00.000Z' }, start, start, d('2026-01-31T23:59:59Z'), false],
    [
      'a period already running when the phase began',
      { from: '2026-02-01T00:00:00.000Z' },
      start,
      d('2026-02-10T00:00:00Z'),
      d('2026-02-10T00:00:00Z'),
      false,
    ],
    [
      'a phase that began with the period',
      { from: '2026-02-01T00:00:00.000Z' },
      start,
      d('2026-02-01T00:00:00Z'),
      d('2026-02-01T00:00:00Z'),
      true,
    ],
    [
      'anchored before a mid-period start',
      { from: '2026-01-01T00:00:00.000Z' },
      d('2026-01-15T00:00:00Z'),
      d('2026-01-15T00:00:00Z'),
      d('2026-01-20T00:00:00Z'),
      false,
    ],
  ];
  it.each(cases)('%s', (_name, period, activeFrom, phaseStartedAt, at, expected) => {
    expect(isRollover(period, activeFrom, phaseStartedAt, at)).toBe(expected);
  });
});
