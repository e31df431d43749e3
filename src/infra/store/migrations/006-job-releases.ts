import type { Kysely } from 'kysely';

// How often a queue job went back to the queue without spending an attempt
// because its backend failed, while the backend answered other jobs: bounded,
// so one issue the backend always fails on cannot stall the dispatcher forever.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('releases', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').dropColumn('releases').execute();
}
