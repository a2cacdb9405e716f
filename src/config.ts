/** Configuration from the environment, validated once at start-up. See the README's "Configuration". */
import { z } from 'zod';
import { isValidDuration, minDurationMs } from './catalog/periods';
import { parseTokenEntry } from './lib/token-scopes';
import { parseAllowList } from './notifications/ssrf';

// the same parser the subscription workflow uses, so a value accepted here never fails a workflow later
const isoDuration = z.string().refine(isValidDuration, {
  message: 'must be an ISO-8601 duration such as PT1H',
});

/** shorter bearer tokens could be guessed (see the README's "Authentication") */
export const MIN_TOKEN_LENGTH = 32;

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().min(1).default('postgres://postgres@127.0.0.1:54329/tally'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).default(20),
  // how long a request waits for a pooled connection before it is answered 503
  DATABASE_ACQUIRE_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('tally'),
  // comma-separated entries `scope=token` (scopes: src/lib/token-scopes.ts); a bare token is `admin`
  TALLY_API_TOKENS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .superRefine((tokens, ctx) => {
      tokens.forEach((entry, i) => {
        let t: string;
        try {
          t = parseTokenEntry(entry).token;
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: `token #${i + 1}: ${(e as Error).message}` });
          return;
        }
        if (t.length < MIN_TOKEN_LENGTH) {
          ctx.addIssue({
            code: 'custom',
            message:
              `token #${i + 1} has ${t.length} characters; each token needs at least ${MIN_TOKEN_LENGTH} ` +
              'so that it cannot be guessed (e.g. `openssl rand -hex 24`)',
          });
        }
      });
    }),
  // failed authentications a client (IP address) may make per window before it gets 429
  TALLY_AUTH_MAX_FAILURES: z.coerce.number().int().min(1).default(20),
  TALLY_AUTH_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(60),
  // express's `trust proxy`: behind a reverse proxy, which X-Forwarded-For hops name the client
  TALLY_TRUST_PROXY: z
    .string()
    .default('')
    .transform((s): boolean | number | string => {
      const v = s.trim();
      if (v === '' || v === 'false') return false;
      if (v === 'true') return true;
      return /^\d+$/.test(v) ? Number(v) : v;
    }),
  TALLY_BODY_LIMIT: z.string().default('50mb'),
  TALLY_COLLECTION_PERIOD: isoDuration.default('PT1H'),
  // how long an Idempotency-Key and its stored response are kept (at its shortest length: a month = 28 days)
  TALLY_IDEMPOTENCY_TTL: isoDuration
    .refine((v) => !isValidDuration(v) || minDurationMs(v) >= 86_400_000, {
      message: 'must be at least 24 hours (PT24H, P1D)',
    })
    .default('P1D'),
  // TrueType/OpenType files embedded in invoice PDFs (default: the standard Helvetica, Latin-1 only)
  TALLY_INVOICE_FONT: z.string().min(1).optional(),
  TALLY_INVOICE_FONT_BOLD: z.string().min(1).optional(),
  // the web console: the built files (console/dist), and where its workflow links point
  TALLY_CONSOLE_DIR: z.string().default(''),
  TALLY_TEMPORAL_UI_URL: z.string().default(''),
  // the Stripe API's base URL (default: Stripe's; tests: stripe-mock's), and this API's public base URL, where
  // Stripe delivers webhooks (https://billing.example.com: the endpoint is <url>/v3/openmeter/apps/{appId}/stripe/webhook)
  TALLY_STRIPE_API_BASE: z.string().default(''),
  TALLY_PUBLIC_URL: z.string().default('http://localhost:8080'),
  // webhook hosts/addresses/CIDR ranges allowed although private, loopback or link-local (notifications/ssrf.ts)
  TALLY_WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .default('')
    .superRefine((v, ctx) => {
      try {
        parseAllowList(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
  // meter rollups (src/metering/rollups.ts): how often the worker rolls them forward, and how far behind now
  TALLY_ROLLUP_INTERVAL_S: z.coerce.number().int().min(1).max(86_400).default(60),
  TALLY_ROLLUP_LAG_S: z.coerce.number().int().min(0).max(86_400).default(300),
  // how often the notification sweeper starts deliveries left behind (seconds)
  TALLY_NOTIFICATION_SWEEP_S: z.coerce.number().int().min(1).max(3600).default(10),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
