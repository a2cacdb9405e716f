/**
 * Page pagination as in the v3 API: `page[size]`, `page[number]` (1-based) in the query,
 * `{ data, meta: { page: { number, size, total } } }` in the response.
 */
import { z } from 'zod';

export const pageQuery = z
  .object({
    size: z.coerce.number().int().min(1).max(1000).default(100),
    number: z.coerce.number().int().min(1).default(1),
  })
  .default({ size: 100, number: 1 });

export type PageParams = z.infer<typeof pageQuery>;

export interface Page<T> {
  data: T[];
  meta: { page: { number: number; size: number; total: number } };
}

export const pageOffset = (p: PageParams): { limit: number; offset: number } => ({
  limit: p.size,
  offset: (p.number - 1) * p.size,
});

export function toPage<T>(data: T[], total: number, p: PageParams): Page<T> {
  return { data, meta: { page: { number: p.number, size: p.size, total } } };
}
