import { sql, type Kysely } from 'kysely';

// When each repository's first poll started: the fixed point github.issues.backlog
// measures from. Repositories polled before this migration get the time they were
// first recorded (just before their first poll), so an upgrade does not move them.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('repositories').addColumn('first_synced_at', 'text').execute();
  await sql`UPDATE repositories SET first_synced_at = created_at
    WHERE EXISTS (SELECT 1 FROM sync_cursors WHERE sync_cursors.repository_id = repositories.id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('repositories').dropColumn('first_synced_at').execute();
}
