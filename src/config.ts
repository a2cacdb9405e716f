/** Configuration from the environment, validated once at start-up. See the README's "Configuration". */
import { z } from 'zod';
import { isValidDuration } from './catalog/periods';

// the same parser the subscription workflow uses, so a value accepted here never fails a workflow later
const isoDuration = z.string().refine(isValidDuration, {
  message: 'must be an ISO-8601 duration such as PT1H',
});

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().min(1).default('postgres://postgres@127.0.0.1:54329/tally'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).default(20),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('tally'),
  TALLY_API_TOKENS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  TALLY_BODY_LIMIT: z.string().default('50mb'),
  TALLY_COLLECTION_PERIOD: isoDuration.default('PT1H'),
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
