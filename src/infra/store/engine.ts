/** Which engine a Kysely instance talks to, for the few statements that differ (e.g. `FOR UPDATE SKIP LOCKED`). */
import { PostgresAdapter, type Kysely } from 'kysely';

// Any schema: the migrations (Kysely<unknown>) and the stores (Kysely<Schema>) both ask.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
