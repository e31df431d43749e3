import type { Kysely } from 'kysely';

// Work units held under leases (docs/architecture.md, "Work units and leases";
// decision 010): one row per unit (`discovery`, `stream:<org>`, `repo:<id>`),
// inserted as the unit appears and deleted when it leaves. `owner` is the
// holding daemon's instance id (null: free), `expires_at` when its lease runs
// out unless renewed, `fence` counts the acquisitions (a new holder each time).
// Text timestamps, as every table: they compare as text on both engines.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('work_leases')
    .addColumn('unit', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text')
    .addColumn('expires_at', 'text')
    .addColumn('acquired_at', 'text')
    .addColumn('fence', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // Renewals and releases find a daemon's own rows by owner.
  await db.schema.createIndex('work_leases_owner').on('work_leases').column('owner').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('work_leases_owner').ifExists().execute();
  await db.schema.dropTable('work_leases').ifExists().execute();
}
