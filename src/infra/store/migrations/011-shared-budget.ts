import type { Kysely } from 'kysely';

// One GitHub budget per credential, however many daemons spend it
// (docs/decisions/002-github-throttle.md, "Several daemons, one budget"): the
// writes of the last hour, each with the daemon that made it, so a write is
// reserved against every daemon's; and one row per credential for the hold
// one daemon learnt (a secondary limit, retry-after, a spent primary budget)
// that the others apply, which is also the row a reservation locks on
// PostgreSQL. A credential is a hash of its token, never the token. Times are
// epoch ms in bigint columns: compared as numbers, and past int4 on PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('github_writes')
    .addColumn('credential', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('instance', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('github_writes_credential_at').on('github_writes').columns(['credential', 'at']).execute();
  await db.schema
    .createTable('github_holds')
    .addColumn('credential', 'text', (c) => c.primaryKey())
    .addColumn('hold_until', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

// An older build keeps its write budget in the state table (github.writeStarts)
// and starts from it; the shared history is dropped with the tables.
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('github_holds').ifExists().execute();
  await db.schema.dropIndex('github_writes_credential_at').ifExists().execute();
  await db.schema.dropTable('github_writes').ifExists().execute();
}
