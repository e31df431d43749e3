/**
 * Which engine a Kysely instance talks to, for the few statements that differ
 * (the queue's `FOR UPDATE SKIP LOCKED`, an id column's type). Everything else
 * is written once and runs on both.
 */
import { PostgresAdapter, sql, type Kysely } from 'kysely';

export type Engine = 'sqlite' | 'postgres';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations hold a Kysely<unknown>, stores a Kysely<Schema>
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * Whether a table is visible to this connection: on PostgreSQL, in its
 * search_path (introspection would list every schema's tables, another
 * installation's among them).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see isPostgres
export async function tableExists(db: Kysely<any>, name: string): Promise<boolean> {
  const query = isPostgres(db)
    ? sql<{ found: number }>`SELECT 1 AS found WHERE to_regclass(${name}) IS NOT NULL`
    : sql<{ found: number }>`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ${name}`;
  return (await query.execute(db)).rows.length > 0;
}
