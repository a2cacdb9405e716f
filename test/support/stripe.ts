/**
 * Stripe in tests: stripe-mock (started by scripts/test.ts, STRIPE_MOCK_URL) behind the SDK's own Node HTTP
 * client, wrapped to record every request (method, path, form body, idempotency key), and webhook payloads
 * signed with the SDK's test helper.
 */
import Stripe from 'stripe';

export interface RecordedRequest {
  method: string;
  path: string;
  body: URLSearchParams;
  idempotencyKey?: string;
}

export const hasStripeMock = () => !!process.env.STRIPE_MOCK_URL;

export function recordingStripeHttpClient(): { client: Stripe.HttpClient; requests: RecordedRequest[] } {
  const inner = Stripe.createNodeHttpClient();
  const requests: RecordedRequest[] = [];
  const client: Stripe.HttpClient = {
    getClientName: () => 'tally-test-recorder',
    makeRequest(host, port, path, method, headers, requestData, protocol, timeout) {
      const h = headers as Record<string, string | undefined>;
      requests.push({
        method,
        path: path.split('?')[0],
        body: new URLSearchParams(requestData ?? ''),
        idempotencyKey: h['Idempotency-Key'] ?? h['idempotency-key'],
      });
      return inner.makeRequest(host, port, path, method, headers, requestData, protocol, timeout);
    },
  };
  return { client, requests };
}

/** A Stripe event payload and its `Stripe-Signature` header, signed with `secret`. */
export function signedStripeEvent(
  secret: string,
  e: { id: string; type: string; object: Record<string, unknown>; created?: number },
): { payload: string; signature: string } {
  const payload = JSON.stringify({
    id: e.id,
    object: 'event',
    type: e.type,
    created: e.created ?? Math.floor(Date.now() / 1000),
    api_version: '2025-01-01',
    livemode: false,
    data: { object: e.object },
  });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret });
  return { payload, signature };
}
