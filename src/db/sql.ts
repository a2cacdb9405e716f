/** A tiny SQL builder: fragments appended in textual order keep `?` placeholders and values in step. */
import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';

export class Sql {
  private readonly parts: string[] = [];
  readonly params: unknown[] = [];

  add(text: string, ...params: unknown[]): this {
    const n = text.split('?').length - 1;
    if (n !== params.length)
      throw new Error(`SQL fragment has ${n} placeholders but ${params.length} values`);
    this.parts.push(text);
    this.params.push(...params);
    return this;
  }

  /** `(?, ?, ?)` for a non-empty list */
  list(values: readonly unknown[]): this {
    if (values.length === 0) throw new Error('empty SQL list');
    return this.add(`(${values.map(() => '?').join(', ')})`, ...values);
  }

  get text(): string {
    return this.parts.join('');
  }
}

/** Runs raw SQL on the entity manager's connection (inside its transaction, if any). */
export async function exec<T = Record<string, unknown>>(em: EntityManager, q: Sql): Promise<T[]> {
  const rows: unknown = await em.getConnection().execute(q.text, q.params, 'all', em.getTransactionContext());
  return rows as T[];
}

/** a unique-constraint violation (PostgreSQL 23505), raw or as MikroORM wraps it */
export function isUniqueViolation(e: unknown): boolean {
  return (
    e instanceof UniqueConstraintViolationException ||
    (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === '23505')
  );
}
