/**
 * Customers: CRUD plus usage attribution (which event subjects belong to which customer).
 *
 * Invariant: among live customers, the set of attribution names — every customer's `key` and every
 * `customer_subjects.subject_key` — maps each name to at most one customer. The primary key on
 * `customer_subjects.subject_key` and the partial unique index on `customers.key` enforce the two halves in
 * the database; writes additionally take a transaction-scoped advisory lock per claimed name so that the
 * cross-checks (a subject equal to another customer's key and vice versa) are race-free, and any unique
 * violation that still slips through is answered as 409, never 500.
 *
 * Keys are never shaped like ids (the routes refuse it), and a lookup "by id or key" is by id exactly when
 * the string is shaped like an id, by key otherwise — never both (`findCustomer`).
 *
 * Usage attribution is by ownership window (see `SubjectWindow`): an event belongs to the customer that
 * owned its subject at the event's time.
 *
 * For other domains: `getCustomer`, `findCustomer`, `subjectsOf`, `customerForSubject`, and the attribution
 * exports of ./attribution.ts (re-exported here): `subjectWindows`, `customerAtSql`, `attributionJoinSql`,
 * `subjectWindowsSql`, `subjectsOfCustomersSql`, `windowsFromJson`. Views: ./views.ts.
 */
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { conflict, notFound, type ConflictError } from '../lib/errors';
import type { AppDeps } from '../deps';
import { idOrKey as lookupOf, newId } from '../lib/ids';
import { exec, Sql } from '../db/sql';
import { orderBy, whereFilter, whereLabels, type FieldFilter } from '../lib/list-query';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { activeSubscriptionIds, customerOnPlanKeySql } from '../subscriptions/queries';
import { customerAtSql } from './attribution';
import { Customer, CustomerSubject, type Address } from './entities';
import { customerView, type BillingCustomer, type CustomerRow } from './views';

export type { Address } from './entities';
export type { BillingCustomer } from './views';
export {
  attributionJoinSql,
  customerAtSql,
  subjectsOfCustomersSql,
  subjectWindows,
  subjectWindowsSql,
  windowsFromJson,
  type SubjectWindow,
} from './attribution';

/** Body of PUT (full replace); `key` is immutable and not part of it. */
export interface CustomerReplace {
  name: string;
  description?: string | null;
  labels?: Record<string, string> | null;
  usage_attribution?: { subject_keys: string[] } | null;
  primary_email?: string | null;
  currency?: string | null;
  billing_address?: Address | null;
}

/** Body of POST. */
export interface CustomerCreate extends CustomerReplace {
  key: string;
}

/** A StringFieldFilter already reduced to one operator. */
export type StringFilter = FieldFilter;

export interface CustomerListQuery {
  page: PageParams;
  filter?: {
    key?: StringFilter;
    name?: StringFilter;
    primary_email?: StringFilter;
    usage_attribution_subject_key?: StringFilter;
    plan_key?: StringFilter;
    labels?: Record<string, StringFilter>;
  };
  /** e.g. [{field:'name', desc:false}]; default name asc */
  sort?: { field: 'id' | 'name' | 'created_at'; desc: boolean }[];
}

// ---------------------------------------------------------------------------------------------------
// reads

const SELECT_COLUMNS = `c.id, c.key, c.name, c.description, c.primary_email, c.currency, c.billing_address,
  c.labels, c.created_at, c.updated_at,
  coalesce((select array_agg(s.subject_key order by s.subject_key) from customer_subjects s
    where s.customer_id = c.id), '{}') as subject_keys`;

/** How a customer is named: by id, by key, or by a string that is an id when shaped like one, else a key. */
export type CustomerRef = string | { id: string } | { key: string };

const refOf = (ref: CustomerRef): { id: string } | { key: string } =>
  typeof ref === 'string' ? lookupOf(ref) : ref;
const refText = (ref: CustomerRef): string =>
  typeof ref === 'string' ? ref : 'id' in ref ? ref.id : ref.key;

/**
 * The live customer named by `ref`, or null. A string shaped like an id (a ULID, any case) is looked up
 * as an id only, any other string as a key only (keys are never shaped like ids); `{key}` matches keys only,
 * even a legacy key shaped like an id, and `{id}` ids only.
 */
export async function findCustomer(em: EntityManager, ref: CustomerRef): Promise<BillingCustomer | null> {
  const r = refOf(ref);
  const q = new Sql().add(
    `select ${SELECT_COLUMNS} from customers c where c.deleted_at is null and c.${'id' in r ? 'id' : 'key'} = ?`,
    'id' in r ? r.id : r.key,
  );
  const [row] = await exec<CustomerRow>(em, q);
  return row ? customerView(row) : null;
}

/**
 * A deleted customer by id, or null (billing issues a deleted customer's final invoice). Its usage
 * attribution is gone with it: its events are found through `subjectWindows`.
 */
export async function findDeletedCustomer(em: EntityManager, id: string): Promise<BillingCustomer | null> {
  const rows = await em.execute<{ id: string; key: string; name: string; currency: string | null }[]>(
    'select id, key, name, currency from customers where id = ? and deleted_at is not null',
    [id],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    key: r.key,
    name: r.name,
    usage_attribution: { subject_keys: [] },
    ...(r.currency ? { currency: r.currency.trim() } : {}),
    created_at: '',
    updated_at: '',
  };
}

/** The live customer named by `ref` (see `findCustomer`); 404 problem when missing or deleted. */
export async function getCustomer(em: EntityManager, ref: CustomerRef): Promise<BillingCustomer> {
  const c = await findCustomer(em, ref);
  if (!c) throw notFound('customer', refText(ref));
  return c;
}

/**
 * The names under which the customer's events arrive: its key, then its usage-attribution subjects. For
 * usage, prefer `subjectWindows` (the same names with the windows in which the customer owns them).
 */
export function subjectsOf(customer: Pick<BillingCustomer, 'key' | 'usage_attribution'>): string[] {
  return [...new Set([customer.key, ...(customer.usage_attribution?.subject_keys ?? [])])];
}

/** The live customer that owns an event subject now, or null. */
export async function customerForSubject(
  em: EntityManager,
  subject: string,
): Promise<BillingCustomer | null> {
  const q = new Sql().add(
    `select ${SELECT_COLUMNS} from (select ?::text as s) v
       join customers c on c.id = ${customerAtSql('v.s', 'now()')} where c.deleted_at is null`,
    subject,
  );
  const [row] = await exec<CustomerRow>(em, q);
  return row ? customerView(row) : null;
}

/** Appends the condition `f` on the column `col` to `q`. */
const filterSql = (q: Sql, col: string, f: StringFilter): Sql => whereFilter(q, col, f);

export async function listCustomers(em: EntityManager, q: CustomerListQuery): Promise<Page<BillingCustomer>> {
  const where = new Sql().add('c.deleted_at is null');
  const f = q.filter ?? {};
  if (f.key) filterSql(where.add(' and '), 'c.key', f.key);
  if (f.name) filterSql(where.add(' and '), 'c.name', f.name);
  if (f.primary_email) filterSql(where.add(' and '), 'c.primary_email', f.primary_email);
  if (f.labels) whereLabels(where.add(' and '), 'c.labels', f.labels);
  if (f.plan_key) customerOnPlanKeySql(where.add(' and '), 'c.id', f.plan_key);
  const sf = f.usage_attribution_subject_key;
  if (sf) {
    if (sf.op === 'exists') {
      where.add(
        ` and ${sf.value ? '' : 'not '}exists (select 1 from customer_subjects s where s.customer_id = c.id)`,
      );
    } else if (sf.op === 'neq') {
      // customers none of whose subjects equals the value
      where.add(
        ' and not exists (select 1 from customer_subjects s where s.customer_id = c.id and s.subject_key = ?)',
        sf.value,
      );
    } else {
      where.add(' and exists (select 1 from customer_subjects s where s.customer_id = c.id and ');
      filterSql(where, 's.subject_key', sf).add(')');
    }
  }
  const order = orderBy(
    q.sort,
    { id: 'c.id', name: 'c.name', created_at: 'c.created_at' },
    [{ field: 'name', desc: false }],
    'c.id',
  );
  const { limit, offset } = pageOffset(q.page);
  const rows = await exec<CustomerRow>(
    em,
    new Sql()
      .add(`select ${SELECT_COLUMNS}, count(*) over () as total from customers c where `)
      .add(where.text, ...where.params)
      .add(`${order} limit ? offset ?`, limit, offset),
  );
  let total = rows[0] ? Number(rows[0].total) : 0;
  if (!rows.length && offset > 0) {
    // past the last page: still report the total
    const [r] = await exec<{ n: string }>(
      em,
      new Sql().add('select count(*) as n from customers c where ').add(where.text, ...where.params),
    );
    total = Number(r?.n ?? 0);
  }
  return toPage(rows.map(customerView), total, q.page);
}

// ---------------------------------------------------------------------------------------------------
// writes

interface Claim {
  subject_key: string;
  customer_id: string;
  customer_key: string;
  /** whether the other customer holds the name as its key or as a usage-attribution subject */
  held_as: 'key' | 'subject';
}

/** Serialise writers that claim any of these names (transaction-scoped, sorted to avoid deadlocks). */
async function lockNames(em: EntityManager, names: string[]): Promise<void> {
  for (const n of [...new Set(names)].sort()) {
    await exec(
      em,
      new Sql().add('select pg_advisory_xact_lock(hashtextextended(?, 7244211))', `customer-subject:${n}`),
    );
  }
}

/** Live customers other than `selfId` that hold any of `names` as key or subject. */
async function findClaims(em: EntityManager, selfId: string, names: string[]): Promise<Claim[]> {
  if (!names.length) return [];
  const q = new Sql()
    .add(
      `select s.subject_key, c.id as customer_id, c.key as customer_key, 'subject' as held_as
         from customer_subjects s join customers c on c.id = s.customer_id
        where c.deleted_at is null and c.id <> ? and s.subject_key in `,
      selfId,
    )
    .list(names)
    .add(
      ` union all
       select c.key, c.id, c.key, 'key' from customers c
        where c.deleted_at is null and c.id <> ? and c.key in `,
      selfId,
    )
    .list(names);
  return exec<Claim>(em, q);
}

function conflictError(key: string, subjects: string[], claims: Claim[]): ConflictError | undefined {
  if (!claims.length) return undefined;
  const conflicts = claims.map(({ subject_key, customer_id, customer_key }) => ({
    subject_key,
    customer_id,
    customer_key,
  }));
  const keyKey = claims.find((c) => c.subject_key === key && c.held_as === 'key');
  const keySubject = claims.find((c) => c.subject_key === key && c.held_as === 'subject');
  const sub = claims.find((c) => subjects.includes(c.subject_key) && c.subject_key !== key) ?? claims[0];
  let detail: string;
  if (keyKey) detail = `a customer with key [${key}] already exists: [${keyKey.customer_id}]`;
  else if (keySubject)
    detail =
      `key [${key}] is already a usage attribution subject of customer [${keySubject.customer_id}]` +
      ` (key [${keySubject.customer_key}])`;
  else
    detail =
      `subject [${sub.subject_key}] is already attributed to customer [${sub.customer_id}]` +
      ` (key [${sub.customer_key}])`;
  return conflict(detail, { conflicts });
}

/** Claims check inside the transaction, after the names are locked. */
async function assertUnclaimed(em: EntityManager, selfId: string, key: string, subjects: string[]) {
  const err = conflictError(key, subjects, await findClaims(em, selfId, [key, ...subjects]));
  if (err) throw err;
}

/**
 * A unique violation from a concurrent writer (should be rare: writers lock the names first). Re-run the
 * check outside the failed transaction so the 409 names the owner; fall back to a generic 409.
 */
async function mapUniqueViolation(
  em: EntityManager,
  e: unknown,
  selfId: string,
  key: string,
  subjects: string[],
): Promise<never> {
  if (!(e instanceof UniqueConstraintViolationException)) throw e;
  const err = conflictError(key, subjects, await findClaims(em, selfId, [key, ...subjects]));
  throw err ?? conflict(`customer [${key}] or one of its subjects is already taken`);
}

const dedupe = (xs: string[] | undefined | null): string[] => [...new Set(xs ?? [])];

function columnsOf(input: CustomerReplace) {
  return {
    name: input.name,
    description: input.description ?? null,
    labels: input.labels ?? null,
    primaryEmail: input.primary_email ?? null,
    currency: input.currency ?? null,
    billingAddress: input.billing_address ?? null,
  };
}

/**
 * SQL: the instant from which a new claim of the name `nameExpr` is owned: the latest release of that name
 * by anyone (a deleted customer's key, a released subject), or NULL when it was never owned.
 */
const ownedFromSql = (nameExpr: string) => `greatest(
    (select max(d.deleted_at) from customers d where d.key = ${nameExpr} and d.deleted_at is not null),
    (select max(r.released_at) from customer_subject_releases r where r.subject_key = ${nameExpr}))`;

/** Claims `subjects` for the customer (inside the locked transaction), each owned from its last release. */
async function claimSubjects(em: EntityManager, customerId: string, subjects: string[]): Promise<void> {
  if (!subjects.length) return;
  const q = new Sql().add(
    `insert into customer_subjects (subject_key, customer_id, owned_from)
     select n.name, ?, ${ownedFromSql('n.name')} from jsonb_array_elements_text(?::jsonb) n(name)`,
    customerId,
    JSON.stringify(subjects),
  );
  await exec(em, q);
}

/** Releases the customer's `subjects` (all of them when omitted) at the transaction's instant. */
async function releaseSubjects(em: EntityManager, customerId: string, subjects?: string[]): Promise<void> {
  const which = (q: Sql): Sql =>
    subjects
      ? q.add(' and subject_key in (select jsonb_array_elements_text(?::jsonb))', JSON.stringify(subjects))
      : q;
  const release = new Sql().add(
    `insert into customer_subject_releases (customer_id, subject_key, owned_from, released_at)
     select customer_id, subject_key, owned_from, now() from customer_subjects where customer_id = ?`,
    customerId,
  );
  await exec(em, which(release));
  await exec(em, which(new Sql().add('delete from customer_subjects where customer_id = ?', customerId)));
}

export async function createCustomer(em: EntityManager, input: CustomerCreate): Promise<BillingCustomer> {
  const id = newId();
  const subjects = dedupe(input.usage_attribution?.subject_keys);
  try {
    await em.transactional(async (tem) => {
      await lockNames(tem, [input.key, ...subjects]);
      await assertUnclaimed(tem, id, input.key, subjects);
      const now = new Date();
      tem.create(Customer, { id, key: input.key, ...columnsOf(input), createdAt: now, updatedAt: now });
      await tem.flush();
      await exec(
        tem,
        new Sql().add(`update customers c set owned_from = ${ownedFromSql('c.key')} where c.id = ?`, id),
      );
      await claimSubjects(tem, id, subjects);
    });
  } catch (e) {
    await mapUniqueViolation(em, e, id, input.key, subjects);
  }
  return getCustomer(em, id);
}

/** Lock the live customer row (by id or key, see `findCustomer`) for the rest of the transaction. */
async function lockCustomer(em: EntityManager, idOrKey: string): Promise<{ id: string; key: string }> {
  const r = lookupOf(idOrKey);
  const q = new Sql().add(
    `select id, key from customers where deleted_at is null and ${'id' in r ? 'id' : 'key'} = ? for update`,
    'id' in r ? r.id : r.key,
  );
  const [row] = await exec<{ id: string; key: string }>(em, q);
  if (!row) throw notFound('customer', idOrKey);
  return row;
}

export async function replaceCustomer(
  em: EntityManager,
  idOrKey: string,
  input: CustomerReplace,
): Promise<BillingCustomer> {
  const subjects = dedupe(input.usage_attribution?.subject_keys);
  let self: { id: string; key: string } | undefined;
  try {
    await em.transactional(async (tem) => {
      self = await lockCustomer(tem, idOrKey);
      const { id, key } = self;
      const old = await tem.find(CustomerSubject, { customerId: id });
      await lockNames(tem, [key, ...subjects, ...old.map((s) => s.subjectKey)]);
      await assertUnclaimed(tem, id, key, subjects);
      const keep = new Set(subjects);
      const removed = old.filter((s) => !keep.has(s.subjectKey)).map((s) => s.subjectKey);
      if (removed.length) await releaseSubjects(tem, id, removed);
      const had = new Set(old.map((s) => s.subjectKey));
      await claimSubjects(
        tem,
        id,
        subjects.filter((s) => !had.has(s)),
      );
      const entity = await tem.findOneOrFail(Customer, { id });
      tem.assign(entity, { ...columnsOf(input), updatedAt: new Date() });
    });
  } catch (e) {
    if (!self) throw e;
    await mapUniqueViolation(em, e, self.id, self.key, subjects);
  }
  return getCustomer(em, self!.id);
}

/**
 * Soft delete: the customer disappears, its key and subjects become free for reuse. Its ownership windows
 * end now (`deleted_at` for the key, a release per subject), so a later owner of those names never sees
 * its usage, and its own usage up to now stays its own (final invoice, event listing by its id).
 */
export async function deleteCustomer(em: EntityManager, idOrKey: string): Promise<void> {
  await em.transactional(async (tem) => {
    const { id } = await lockCustomer(tem, idOrKey);
    // its usage would go unbilled (or, once its key is reused, be billed to the wrong customer)
    const active = await activeSubscriptionIds(tem, id);
    if (active.length) {
      throw conflict(
        `customer ${idOrKey} has active subscriptions (${active.join(', ')}): cancel them first`,
      );
    }
    await releaseSubjects(tem, id);
    await exec(
      tem,
      new Sql().add('update customers set deleted_at = now(), updated_at = now() where id = ?', id),
    );
  });
}

/**
 * The customers service of the API. Each call uses `deps.orm.em`, which inside a request is that request's
 * fork (RequestContext, see src/db/README.md); it never forks.
 */
export function createCustomersService(deps: Pick<AppDeps, 'orm'>) {
  const em = (): EntityManager => deps.orm.em;
  return {
    create: (input: CustomerCreate) => createCustomer(em(), input),
    list: (q: CustomerListQuery) => listCustomers(em(), q),
    get: (idOrKey: string) => getCustomer(em(), idOrKey),
    replace: (idOrKey: string, input: CustomerReplace) => replaceCustomer(em(), idOrKey, input),
    delete: (idOrKey: string) => deleteCustomer(em(), idOrKey),
  };
}

export type CustomersService = ReturnType<typeof createCustomersService>;
