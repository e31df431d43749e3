import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';
import { isPostgres } from '../engine.js';

/** An integer id the database assigns: SQLite's AUTOINCREMENT, PostgreSQL's serial. */
function idColumn(db: Kysely<unknown>) {
  return isPostgres(db)
    ? { type: 'serial' as const, build: (c: ColumnDefinitionBuilder) => c.primaryKey() }
    : { type: 'integer' as const, build: (c: ColumnDefinitionBuilder) => c.primaryKey().autoIncrement() };
}

// Migrations take Kysely<unknown>: they must not depend on today's table types.
export async function up(db: Kysely<unknown>): Promise<void> {
  const id = idColumn(db);
  await db.schema
    .createTable('repositories')
    .addColumn('id', id.type, id.build)
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('github_id', 'bigint')
    .addColumn('validated_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('repositories_owner_name_unique', ['owner', 'name'])
    .execute();

  await db.schema
    .createTable('issues')
    .addColumn('id', id.type, id.build)
    .addColumn('github_id', 'bigint', (c) => c.notNull().unique())
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('is_pull_request', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('labels', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('author', 'text')
    .addColumn('html_url', 'text', (c) => c.notNull())
    .addColumn('comments_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('synced_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('issues_repository_number').on('issues').columns(['repository_id', 'number']).execute();

  await db.schema
    .createTable('sync_cursors')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('topic', 'text', (c) => c.notNull())
    .addColumn('since', 'text')
    .addColumn('page', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('etag', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('last_polled_at', 'text')
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'text')
    .addPrimaryKeyConstraint('sync_cursors_pk', ['repository_id', 'topic'])
    .execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', id.type, id.build)
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('issue_github_id', 'bigint', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('run_after', 'text', (c) => c.notNull())
    .addColumn('locked_until', 'text')
    .addColumn('locked_by', 'text')
    .addColumn('last_error', 'text')
    .addColumn('outcome', 'text')
    .addColumn('comment_url', 'text')
    .addColumn('payload', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  // At most one live queue job per issue and type: later changes coalesce into it.
  await db.schema
    .createIndex('jobs_one_live_per_issue')
    .on('jobs')
    .columns(['issue_github_id', 'type'])
    .unique()
    .where(sql.ref('state'), 'in', ['pending', 'running'])
    .execute();
  await db.schema.createIndex('jobs_claimable').on('jobs').columns(['type', 'state', 'run_after']).execute();
  await db.schema.createIndex('jobs_issue').on('jobs').columns(['issue_github_id', 'type', 'state']).execute();

  await db.schema
    .createTable('state')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['state', 'jobs', 'sync_cursors', 'issues', 'repositories']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
