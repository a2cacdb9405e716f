/**
 * RFC 9457 problem details: every error Tally answers is `application/problem+json`.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { logger } from '../lib/logger';

export interface InvalidParam {
  /** where the problem is, e.g. `body[3].subject` or `query.from` */
  field: string;
  reason: string;
  /** index in a batch, when the body is an array */
  index?: number;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
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

export function problemBody(status: number, detail: string, instance?: string, extra: object = {}) {
  return {
    type: `https://httpstatuses.io/${status}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(instance ? { instance } : {}),
    ...extra,
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

export const errorHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  if (err instanceof ProblemError) {
    res
      .status(err.status)
      .type('application/problem+json')
      .json(problemBody(err.status, err.detail, req.originalUrl, err.extra));
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
    res
      .status(status)
      .type('application/problem+json')
      .json(problemBody(status, detail, req.originalUrl));
    return;
  }
  logger.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
  res
    .status(500)
    .type('application/problem+json')
    .json(problemBody(500, 'internal error', req.originalUrl));
};
