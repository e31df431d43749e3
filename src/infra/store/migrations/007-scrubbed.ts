import type { Kysely } from 'kysely';

// How many secrets were removed from a job's comment before it was posted (or
// logged, in a dry run): the operator sees that an answer tried to leak one.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('scrubbed', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').dropColumn('scrubbed').execute();
}
