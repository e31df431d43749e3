/** Store test fixtures: a fresh SQLite file per test with the real migrations, and what a test needs on either engine. */
import { join } from 'node:path';
import { sql } from 'kysely';
import { openDatabase, SchemaMigrator, type Database } from '../../src/infra/store/index.js';
import { tempDir } from './cli.js';
import type { TestEngine } from './engines.js';

export async function freshDatabase(): Promise<{ database: Database; dir: string; cleanup: () => Promise<void> }> {
  const dir = tempDir('autosolve-db-');
  const database = await openDatabase(join(dir.path, 'test.db'));
  await new SchemaMigrator(database.db, database.path).up();
  return {
    database,
    dir: dir.path,
    cleanup: async () => {
      await database.close();
      dir.cleanup();
    },
  };
}

/**
 * Makes every insert into `table` fail with `message`, so a test can break the
 * last step of a transaction and check nothing before it stays. Each engine
 * has its own trigger syntax; the trigger goes when the database does.
 */
export async function refuseInserts(database: Database, table: 'jobs' | 'repositories', message: string): Promise<void> {
  if (database.engine === 'postgres') {
    await sql.raw(`CREATE FUNCTION refuse_${table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${message}'; END $$`).execute(database.db);
    await sql.raw(`CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION refuse_${table}()`).execute(database.db);
  } else {
    await sql.raw(`CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, '${message}'); END`).execute(database.db);
  }
}

/** Whether a table or index of that name exists in the database (PostgreSQL: in its search_path). */
export async function relationExists(database: Database, name: string): Promise<boolean> {
  const query =
    database.engine === 'postgres'
      ? sql<{ found: number }>`SELECT 1 AS found WHERE to_regclass(${name}) IS NOT NULL`
      : sql<{ found: number }>`SELECT 1 AS found FROM sqlite_master WHERE name = ${name}`;
  return (await query.execute(database.db)).rows.length > 0;
}

/**
 * `count` connections to one fresh, migrated database, as that many daemons
 * have (on PostgreSQL, a pool each); `cleanup` closes them all and drops it.
 */
export async function sharedDatabase(engine: TestEngine, count: number): Promise<{ databases: Database[]; cleanup: () => Promise<void> }> {
  const blank = await engine.blank();
  const databases: Database[] = [];
  const cleanup = async () => {
    for (const database of databases) await database.close();
    await blank.cleanup();
  };
  try {
    for (let i = 0; i < count; i++) databases.push(await openDatabase(blank.target));
    await new SchemaMigrator(databases[0]!.db, databases[0]!.path).up();
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { databases, cleanup };
}
