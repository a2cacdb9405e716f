/**
 * The hardening cases of issue 9, kept in one list so that they stay fixed: each entry names the defect
 * and the file in test/hardening/ whose cases reproduce it (each case fails without its fix).
 *
 *  1. one event's value (overflow, non-number) stops a customer's billing      → values.cases.ts, invoices.cases.ts
 *  2. events with large `data` answered 500                                    → values.cases.ts
 *  3. negative and unbounded values billed as they are                         → values.cases.ts
 *  4. the same event means different things on the two ingest paths           → values.cases.ts
 *  5. a customer key may equal another customer's id                           → customers.cases.ts
 *  6. a deleted customer's events show up for the next owner of the key        → customers.cases.ts
 *  7. NUL bytes, deep JSON and forged cursors answered 500                     → edge.cases.ts
 *  8. outages (PostgreSQL, Temporal) looked like bugs                          → edge.cases.ts
 *  9. invoice numbers skipped under crashes                                    → invoices.cases.ts
 * 10. invoices late after a worker crash (sticky timeout)                      → invoices.cases.ts
 * 11. listing a customer's events was slow at millions of events               → customers.cases.ts
 * 12. authentication: constant-time compare, short tokens, rate limit, headers → edge.cases.ts
 */
import './../hardening/values.cases';
import './../hardening/customers.cases';
import './../hardening/edge.cases';
import './../hardening/invoices.cases';
