/**
 * Domain errors: what went wrong, in the domain's words. Services, activities and the workflow's
 * rejections throw these; only the API layer (`src/api/problem.ts`) turns them into HTTP statuses.
 */

/**
 * One bad input, e.g. `{ field: 'body[3].subject', reason: 'is required' }`. On the wire (OpenMeter's
 * `invalid_parameters` items) it also carries `rule` (a machine-readable code; derived from the reason when
 * not given) and `source` (`body`, `query`, `path`, `header`: the field's first segment).
 */
export interface InvalidParam {
  /** where the problem is, e.g. `body[3].subject` or `query.from` */
  field: string;
  reason: string;
  /** OpenMeter's rule code: `required`, `unknown_property`, `type`, `is_date_time`, `min`, `max`, `enum`, … */
  rule?: string;
  /** for `min*` rules */
  minimum?: number;
  /** for `max*` rules */
  maximum?: number;
  /** for the `enum` rule */
  choices?: unknown[];
  /** index in a batch, when the body is an array (already part of `field`; not sent) */
  index?: number;
}

export abstract class DomainError extends Error {
  constructor(
    message: string,
    /** details for the caller (e.g. `conflicts`), shown beside the message */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input is not acceptable; `params` names each bad field. */
export class InvalidError extends DomainError {
  constructor(
    message: string,
    readonly params?: InvalidParam[],
  ) {
    super(message, params ? { invalid_parameters: params } : {});
  }
}
/** Nothing of that kind with that id or key. */
export class NotFoundError extends DomainError {}
/** The request contradicts the current state (a duplicate key, a resource still in use, a wrong status). */
export class ConflictError extends DomainError {}
/** The resource existed and was deleted. */
export class GoneError extends DomainError {}
/** The request carries no credential, or one that is not valid for it (a callback's own token). */
export class UnauthenticatedError extends DomainError {}
/** The credential is valid but does not allow this (e.g. another app's callback token). */
export class ForbiddenError extends DomainError {}
/** A dependency (database, Temporal) cannot answer now; retrying later may succeed. */
export class UnavailableError extends DomainError {}

export const invalid = (message: string, params?: InvalidParam[]) => new InvalidError(message, params);
export const notFound = (what: string, id: string) => new NotFoundError(`${what} ${id} not found`);
export const conflict = (message: string, extra?: Record<string, unknown>) =>
  new ConflictError(message, extra);
export const gone = (what: string, id: string) => new GoneError(`${what} ${id} has been deleted`);
export const unavailable = (message: string) => new UnavailableError(message);
export const unauthenticated = (message: string) => new UnauthenticatedError(message);
export const forbidden = (message: string) => new ForbiddenError(message);
