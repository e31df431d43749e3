import type { Kysely } from 'kysely';

// A claim records who holds it (instance, host, pid), so a daemon on the same
// host can tell at once that the holder died (the running rows are few and
// found through jobs_running_by_lock, so no index of their own: claims and
// completions stay as cheap as before); a registry of running daemons
// lets a second daemon on the same file refuse instead of racing the first.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('owner_instance', 'text').execute();
  await db.schema.alterTable('jobs').addColumn('owner_host', 'text').execute();
  await db.schema.alterTable('jobs').addColumn('owner_pid', 'integer').execute();
  await db.schema
    .createTable('instances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('heartbeat_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('instances').ifExists().execute();
  await db.schema.alterTable('jobs').dropColumn('owner_pid').execute();
  await db.schema.alterTable('jobs').dropColumn('owner_host').execute();
  await db.schema.alterTable('jobs').dropColumn('owner_instance').execute();
}
