import { sql, type Kysely } from 'kysely';

// Conversation (issue 12). A queue job may be about one comment of its issue
// (a follow-up answers one mention): `subject_id` is that comment's GitHub id,
// 0 for jobs about the issue itself, and the one-live-job rule becomes one per
// issue, type and subject. An issue remembers the hash of its title and body as
// last stored (`content_hash`: an edit that changes it asks for re-analysis, a
// label or a comment does not) and its author's association with the
// repository (`author_association`: rules may match on it).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('subject_id', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.dropIndex('jobs_one_live_per_issue').ifExists().execute();
  await db.schema
    .createIndex('jobs_one_live_per_subject')
    .on('jobs')
    .columns(['issue_github_id', 'type', 'subject_id'])
    .unique()
    .where(sql.ref('state'), 'in', ['pending', 'running'])
    .execute();
  await db.schema.alterTable('issues').addColumn('content_hash', 'text').execute();
  await db.schema.alterTable('issues').addColumn('author_association', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('issues').dropColumn('author_association').execute();
  await db.schema.alterTable('issues').dropColumn('content_hash').execute();
  await db.schema.dropIndex('jobs_one_live_per_subject').ifExists().execute();
  // Jobs about comments cannot live beside their issue's under the old rule: only the issue's own stay.
  await sql`DELETE FROM jobs WHERE subject_id <> 0`.execute(db);
  await db.schema
    .createIndex('jobs_one_live_per_issue')
    .on('jobs')
    .columns(['issue_github_id', 'type'])
    .unique()
    .where(sql.ref('state'), 'in', ['pending', 'running'])
    .execute();
  await db.schema.alterTable('jobs').dropColumn('subject_id').execute();
}
