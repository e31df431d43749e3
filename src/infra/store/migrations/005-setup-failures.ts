import type { Kysely } from 'kysely';

// Why setup last failed for a configured repository, for `autosolve status`.
// Keyed by the configured owner/name, not the repositories table: a repository
// that never passed setup has no GitHub id and no row there.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('setup_failures')
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('error', 'text', (c) => c.notNull())
    .addColumn('failed_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('setup_failures_pk', ['owner', 'name'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('setup_failures').ifExists().execute();
}
