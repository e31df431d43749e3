import type { Kysely } from 'kysely';

// The fleet (docs/architecture.md, "The fleet"): repositories discovered in an
// organisation live beside the configured ones, remembered with where they came
// from, when and why discovery dropped them, and how their changes are detected.
// An organisation's issue stream resumes from its own cursor, keyed by scope
// (`org:acme`, `user`), not by repository. The reconciliation sweep compares each
// repository's newest stored update with GitHub's: (repository_id, updated_at)
// answers that for 10,000 repositories from the index alone.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('repositories').addColumn('source', 'text', (c) => c.notNull().defaultTo('configured')).execute();
  await db.schema.alterTable('repositories').addColumn('organization', 'text').execute();
  await db.schema.alterTable('repositories').addColumn('dropped_at', 'text').execute();
  await db.schema.alterTable('repositories').addColumn('drop_reason', 'text').execute();
  await db.schema.alterTable('repositories').addColumn('detection_path', 'text').execute();
  await db.schema
    .createTable('scope_cursors')
    .addColumn('scope', 'text', (c) => c.primaryKey())
    .addColumn('since', 'text')
    .addColumn('page', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('etag', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('last_polled_at', 'text')
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'text')
    .execute();
  await db.schema.createIndex('issues_repository_updated').on('issues').columns(['repository_id', 'updated_at']).execute();
}

// Discovered repositories stay, with their issues and jobs: the older build sees
// them as repositories no longer in the configuration. Stream cursors go; the
// per-repository cursors the older build polls from are untouched.
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('issues_repository_updated').ifExists().execute();
  await db.schema.dropTable('scope_cursors').ifExists().execute();
  for (const column of ['detection_path', 'drop_reason', 'dropped_at', 'organization', 'source']) {
    await db.schema.alterTable('repositories').dropColumn(column).execute();
  }
}
