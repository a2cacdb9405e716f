/** The typed client of Tally's public API (types generated from its OpenAPI document: ./schema.d.ts). */
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];

const TOKEN_KEY = 'tally.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An API answer that is not a success: the problem+json document when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(problem ? problem.detail || problem.title : `the API answered ${status}`);
  }
  /**
   * invalid_parameters by form field: a body field (`source: body`, or named `body.…`) without its `body.`
   * prefix; query, path and header fields keep theirs (no form field has them, so they show as a message).
   */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const p of this.problem?.invalid_parameters ?? []) {
      if (!p.field) continue;
      const inBody = p.source === 'body' || (p.source === undefined && p.field.startsWith('body.'));
      const field = inBody ? p.field.replace(/^body\./, '') : p.field;
      out[field] = out[field] ? `${out[field]}; ${p.reason ?? 'invalid'}` : (p.reason ?? 'invalid');
    }
    return out;
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) window.dispatchEvent(new Event('tally:unauthorized'));
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(auth);

/** The data of an openapi-fetch result, or throws ApiError. */
export async function unwrap<T>(
  p: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<NonNullable<T>> {
  const { data, error, response } = await p;
  if (!response.ok) throw new ApiError(response.status, isProblem(error) ? error : undefined);
  return data as NonNullable<T>;
}

function isProblem(e: unknown): e is Problem {
  return typeof e === 'object' && e !== null && 'title' in e && 'status' in e;
}
