import { sql, type Kysely } from 'kysely';

// Claims read only visible rows: pending ones in run order, running ones whose
// claim expired. Done and dead rows pile up for months and must not slow them.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('jobs_claimable').ifExists().execute();
  await db.schema
    .createIndex('jobs_pending_by_run_after')
    .on('jobs')
    .columns(['type', 'run_after', 'id'])
    .where(sql.ref('state'), '=', 'pending')
    .execute();
  await db.schema
    .createIndex('jobs_running_by_lock')
    .on('jobs')
    .columns(['type', 'locked_until'])
    .where(sql.ref('state'), '=', 'running')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('jobs_running_by_lock').ifExists().execute();
  await db.schema.dropIndex('jobs_pending_by_run_after').ifExists().execute();
  await db.schema.createIndex('jobs_claimable').on('jobs').columns(['type', 'state', 'run_after']).execute();
}
