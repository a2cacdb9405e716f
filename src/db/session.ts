/**
 * Every session's settings (the ORM's and the side pools'): no JIT. Tally's statements are short index
 * reads whose cost the planner overestimates (a set-returning function such as `jsonb_to_recordset` or
 * `generate_series` counts as 100–1,000 rows), so JIT would compile them (50–1,000 ms) to run in 10.
 */
export const SESSION_OPTIONS = '-c jit=off';
