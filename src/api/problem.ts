/**
 * RFC 9457 problem details: every error Tally answers is `application/problem+json`.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  ConflictError,
  DomainError,
  ForbiddenError,
  GoneError,
  InvalidError,
  NotFoundError,
  UnauthenticatedError,
  UnavailableError,
  type InvalidParam,
} from '../lib/errors';
import { logger } from '../lib/logger';

export type { InvalidParam };

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly extra: { invalid_parameters?: InvalidParam[]; [k: string]: unknown } = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
  }
}

export const badRequest = (detail: string, invalid_parameters?: InvalidParam[]) =>
  new ProblemError(400, detail, invalid_parameters ? { invalid_parameters } : {});
export const notFound = (what: string, id: string) => new ProblemError(404, `${what} ${id} not found`);
export const conflict = (detail: string) => new ProblemError(409, detail);

/** OpenMeter's rule codes that need a companion field (`minimum`, `maximum`, `choices`) */
const MIN_RULES = new Set(['min_length', 'min_digits', 'min_items', 'min']);
const MAX_RULES = new Set(['max_length', 'max_items', 'max']);

/** the rule a reason implies when the thrower named none */
function impliedRule(reason: string): string {
  if (reason === 'unknown_property' || /unknown property/i.test(reason)) return 'unknown_property';
  if (/\brequired\b/i.test(reason)) return 'required';
  return 'invalid';
}

/**
 * One `invalid_parameters` item in OpenMeter's shape (InvalidParameterStandard / MinimumLength /
 * MaximumLength / ChoiceItem): `field`, `rule`, `reason`, `source`, and the rule's companion field.
 */
export function wireParam(p: InvalidParam): Record<string, unknown> {
  let rule = p.rule ?? impliedRule(p.reason);
  // a min/max/enum rule without its companion would break the item's schema: fall back to the standard one
  if (MIN_RULES.has(rule) && !Number.isInteger(p.minimum)) rule = 'invalid';
  if (MAX_RULES.has(rule) && !Number.isInteger(p.maximum)) rule = 'invalid';
  if (rule === 'enum' && !(p.choices && p.choices.length)) rule = 'invalid';
  const source = /^(body|query|path|header)\b/.exec(p.field)?.[1];
  return {
    field: p.field,
    rule,
    reason: p.reason === 'unknown_property' ? 'is not a known property' : p.reason,
    ...(source ? { source } : {}),
    ...(MIN_RULES.has(rule) ? { minimum: p.minimum } : {}),
    ...(MAX_RULES.has(rule) ? { maximum: p.maximum } : {}),
    ...(rule === 'enum' ? { choices: [...new Set(p.choices)] } : {}),
  };
}

/**
 * OpenMeter's problem shape (BaseError + BadRequestError): `type` is `https://httpstatuses.com/<status>`,
 * `title`, `status`, `instance`, `detail`, and on a 400 `invalid_parameters` (see wireParam). Other keys a
 * domain error carries (e.g. a 409's `conflicts`) follow as Tally extensions.
 */
export function problemBody(status: number, detail: string, instance?: string, extra: object = {}) {
  const { invalid_parameters, ...rest } = extra as { invalid_parameters?: InvalidParam[] };
  const params = (invalid_parameters ?? []).map(wireParam);
  return {
    type: `https://httpstatuses.com/${status}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    instance: instance ?? '',
    ...rest,
    // OpenMeter requires a non-empty list on every 400
    ...(params.length
      ? { invalid_parameters: params }
      : status === 400
        ? { invalid_parameters: [{ field: 'request', rule: 'invalid', reason: detail }] }
        : {}),
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res
    .status(404)
    .type('application/problem+json')
    .json(problemBody(404, `no route for ${req.method} ${req.path}`, req.originalUrl));
};

interface HttpishError {
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
  expose?: boolean;
}

/** seconds a client should wait before retrying after a 503 (a dependency is down or restarting) */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

// PostgreSQL SQLSTATEs of a server that is shutting down, starting or unreachable (class 08: connection
// exception; 57P01-03: admin/crash shutdown, cannot connect now; 53300: too many connections)
const PG_UNAVAILABLE = /^(08[0-9]{3}|57P0[123]|53300)$/; // not 08P01 (a protocol violation is a bug, not an outage)
const NET_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
// gRPC status codes (Temporal): 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED
const GRPC_UNAVAILABLE = new Set([14, 4]);

interface CausedError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * Which dependency an error says is unreachable ('database' or 'temporal'), looking through `cause`
 * chains and AggregateErrors (what pg raises when every address of a host refuses), or undefined.
 */
export function unavailableDependency(err: unknown, seen = 0): 'database' | 'temporal' | undefined {
  if (seen > 8 || typeof err !== 'object' || err === null) return undefined;
  const e = err as CausedError;
  const name = typeof e.name === 'string' ? e.name : '';
  const msg = typeof e.message === 'string' ? e.message : '';
  if (name === 'KnexTimeoutError' || msg.startsWith('Knex: Timeout acquiring a connection'))
    return 'database';
  if (name === 'ConnectionException') return 'database';
  if (typeof e.code === 'string' && PG_UNAVAILABLE.test(e.code)) return 'database';
  if (
    msg === 'Connection terminated unexpectedly' ||
    msg.startsWith('timeout exceeded when trying to connect')
  ) {
    return 'database';
  }
  // a gRPC status (Temporal's ServiceError carries it as its cause)
  if (typeof e.code === 'number' && GRPC_UNAVAILABLE.has(e.code) && ('details' in e || 'metadata' in e)) {
    return 'temporal';
  }
  if (typeof e.code === 'string' && NET_UNAVAILABLE.has(e.code)) return 'database';
  if (Array.isArray(e.errors)) {
    for (const x of e.errors as unknown[]) {
      const d = unavailableDependency(x, seen + 1);
      if (d) return d;
    }
  }
  return unavailableDependency(e.cause, seen + 1);
}

function sendProblem(
  res: Parameters<ErrorRequestHandler>[2],
  status: number,
  detail: string,
  instance: string,
  extra: object = {},
): void {
  if (status === 503 && !res.get('Retry-After')) res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_S));
  if (status === 401 && !res.get('WWW-Authenticate')) res.set('WWW-Authenticate', 'Bearer realm="tally"');
  res
    .status(status)
    .type('application/problem+json')
    .json(problemBody(status, detail, instance, extra));
}

/** The one place a domain error becomes an HTTP status. */
function domainStatus(e: DomainError): number {
  if (e instanceof InvalidError) return 400;
  if (e instanceof UnauthenticatedError) return 401;
  if (e instanceof ForbiddenError) return 403;
  if (e instanceof NotFoundError) return 404;
  if (e instanceof ConflictError) return 409;
  if (e instanceof GoneError) return 410;
  if (e instanceof UnavailableError) return 503;
  return 500;
}

export const errorHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  if (err instanceof ProblemError) {
    sendProblem(res, err.status, err.detail, req.originalUrl, err.extra);
    return;
  }
  if (err instanceof DomainError) {
    sendProblem(res, domainStatus(err), err.message, req.originalUrl, err.extra);
    return;
  }
  const e = (err ?? {}) as HttpishError;
  const status = e.status ?? e.statusCode;
  // errors raised by body-parser (too large, malformed JSON, bad charset)
  if (status && status >= 400 && status < 500) {
    const detail =
      e.type === 'entity.too.large'
        ? 'request body exceeds the configured limit (TALLY_BODY_LIMIT)'
        : e.type === 'entity.parse.failed'
          ? `malformed JSON: ${e.message ?? ''}`
          : (e.message ?? 'bad request');
    const body =
      e.type?.startsWith('entity.') || e.type?.startsWith('charset.') || e.type === 'encoding.unsupported';
    sendProblem(
      res,
      status,
      detail,
      req.originalUrl,
      body && status === 400 ? { invalid_parameters: [{ field: 'body', reason: detail }] } : {},
    );
    return;
  }
  const down = unavailableDependency(err);
  if (down) {
    // the driver's text stays in the log: it may name hosts, users or databases
    logger.warn({ err, method: req.method, url: req.originalUrl }, `${down} unavailable`);
    sendProblem(
      res,
      503,
      down === 'database'
        ? 'the database is unavailable; retry later'
        : 'the workflow service (Temporal) is unavailable; retry later',
      req.originalUrl,
    );
    return;
  }
  logger.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
  sendProblem(res, 500, 'internal error', req.originalUrl);
};
