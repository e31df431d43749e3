/**
 * Moves an installation from one database to another (`autosolve migrate copy`,
 * docs/architecture.md, "Storage"): every row a daemon needs to carry on where
 * the old one stopped — repositories, issues, cursors, the queue with its
 * outcomes, state — so that nothing is answered twice after the move.
 *
 * Engine-neutral Kysely; the only engine-specific step is PostgreSQL's serial
 * sequences, set past the copied ids (SQLite's AUTOINCREMENT follows the
 * inserted ids by itself). Both databases must be at the same schema: the
 * caller migrates them.
 */
import { sql, type Kysely } from 'kysely';
import { isPostgres } from './engine.js';
import type { Database } from './database.js';

/** Table names are data here (the list below), so the schema's types do not apply. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyKysely = Kysely<any>;

interface CopiedTable {
  readonly table: string;
  /** Its primary key, the order rows are read in (keyset paging); for an unkeyed table, just the order. */
  readonly key: readonly string[];
  /** No unique key to page by: read whole, so only for a table small by design. */
  readonly unkeyed?: boolean;
  /** A serial id: PostgreSQL's sequence is set past the copied maximum. */
  readonly serial?: boolean;
}

/**
 * The tables copied, in foreign-key order (parents first). Every table the
 * schema holds is either here or in SKIPPED_TABLES: a table in neither stops
 * the copy (and test/migrate-copy.test.ts), so a migration that adds one must
 * say what a move does with it.
 */
export const COPIED_TABLES: readonly CopiedTable[] = [
  { table: 'repositories', key: ['id'], serial: true },
  { table: 'issues', key: ['id'], serial: true },
  { table: 'sync_cursors', key: ['repository_id', 'topic'] },
  { table: 'scope_cursors', key: ['scope'] },
  { table: 'jobs', key: ['id'], serial: true },
  { table: 'state', key: ['key'] },
  { table: 'setup_failures', key: ['owner', 'name'] },
  // The shared write budget's last hour (pruned at every reservation) and the holds GitHub imposed on a
  // credential: both are about the token, not the database, so they keep pacing the daemons after the move.
  { table: 'github_writes', key: ['credential', 'at', 'instance'], unkeyed: true },
  { table: 'github_holds', key: ['credential'] },
];

/** Tables deliberately not copied, with why. */
export const SKIPPED_TABLES: Readonly<Record<string, string>> = {
  kysely_migration: 'the target records its own migrations',
  kysely_migration_lock: 'the target records its own migrations',
  instances: "the old daemon's registration means nothing on the new database; each daemon registers where it runs",
  work_leases: 'leases are acquired again by the daemons on the new database (their units are inserted as they appear)',
};

/** Rows per INSERT, unless told otherwise. */
export const DEFAULT_BATCH_SIZE = 500;
/** Bound parameters per INSERT: under SQLite's 32,766 and PostgreSQL's 65,535. */
const MAX_PARAMETERS = 30_000;

export interface CopyOptions {
  /** Rows per INSERT (fewer for a wide table, to stay under the engines' parameter limits). Default 500. */
  readonly batchSize?: number;
  /** Called after each batch, with the rows copied of that table so far. Default: nothing. */
  readonly onProgress?: (table: string, rows: number) => void;
}

export interface CopiedCount {
  readonly table: string;
  readonly rows: number;
}

/** The target already holds data; nothing was written. */
export class TargetNotEmptyError extends Error {
  readonly holds: readonly CopiedCount[];
  constructor(path: string, holds: readonly CopiedCount[]) {
    super(`the target ${path} already holds data (${holds.map((h) => `${h.rows} ${h.table}`).join(', ')}); copy into an empty database or schema`);
    this.name = 'TargetNotEmptyError';
    this.holds = holds;
  }
}

/** A table in the source that this build does not know how to move; nothing was written. */
export class UnknownTableError extends Error {
  readonly tables: readonly string[];
  constructor(path: string, tables: readonly string[]) {
    super(`the source ${path} has tables this build does not know how to copy: ${tables.join(', ')}`);
    this.name = 'UnknownTableError';
    this.tables = tables;
  }
}

/** A table could not be copied (a row the target refuses, a lost connection); the target's transaction is rolled back. */
export class CopyFailedError extends Error {
  readonly table: string;
  constructor(table: string, cause: unknown) {
    super(`copying ${table} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'CopyFailedError';
    this.table = table;
  }
}

/**
 * Copies every row of COPIED_TABLES from `source` into `target`, ids kept, in
 * one transaction on the target: all or nothing. The source is read in one
 * transaction too (a consistent snapshot). Returns the rows copied per table,
 * in copy order. Throws TargetNotEmptyError when the target holds any of them.
 */
export async function copyDatabase(source: Database, target: Database, options: CopyOptions = {}): Promise<CopiedCount[]> {
  const unknown = await tablesNotCovered(source.db);
  if (unknown.length > 0) throw new UnknownTableError(source.path, unknown);
  await assertSameSchema(source, target);
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`copyDatabase: batchSize must be a positive whole number, got ${batchSize}`);
  return source.db.transaction().execute((from) =>
    target.db.transaction().execute(async (to) => {
      const holds = await rowsHeld(to);
      if (holds.length > 0) throw new TargetNotEmptyError(target.path, holds);
      const counts: CopiedCount[] = [];
      for (const spec of COPIED_TABLES) {
        try {
          counts.push({ table: spec.table, rows: await copyTable(from, to, spec, batchSize, options.onProgress) });
          if (spec.serial && isPostgres(to)) await moveSequencePast(to, spec.table);
        } catch (error) {
          throw new CopyFailedError(spec.table, error);
        }
      }
      return counts;
    }),
  );
}

/** Rows copied between different schemas would meet columns the other side lacks, or defaults its migrations would not choose. */
async function assertSameSchema(source: Database, target: Database): Promise<void> {
  const [from, to] = await Promise.all([appliedMigrations(source.db), appliedMigrations(target.db)]);
  if (from.join() === to.join()) return;
  throw new Error(
    `the source ${source.path} (${from.length} migrations applied) and the target ${target.path} (${to.length}) are at different schemas; ` +
      'migrate both to this build\'s latest first (`autosolve migrate up`)',
  );
}

async function appliedMigrations(db: AnyKysely): Promise<string[]> {
  if (!(await tableNames(db)).includes('kysely_migration')) return [];
  const rows = await db.selectFrom('kysely_migration').select('name').orderBy('name').execute();
  return rows.map((r: { name: string }) => r.name);
}

/** The copied tables that hold rows in `database`, with how many (tables not created yet count as empty). */
export async function rowsHeld(db: AnyKysely): Promise<CopiedCount[]> {
  const present = new Set(await tableNames(db));
  const held: CopiedCount[] = [];
  for (const { table } of COPIED_TABLES) {
    if (!present.has(table)) continue;
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = Number(row.n);
    if (rows > 0) held.push({ table, rows });
  }
  return held;
}

/** Tables in `db` that are neither copied nor deliberately skipped. */
export async function tablesNotCovered(db: AnyKysely): Promise<string[]> {
  const known = new Set([...COPIED_TABLES.map((t) => t.table), ...Object.keys(SKIPPED_TABLES)]);
  return (await tableNames(db)).filter((name) => !known.has(name)).sort();
}

/** The tables of this connection's schema (PostgreSQL: its current schema, not every schema on the server). */
async function tableNames(db: AnyKysely): Promise<string[]> {
  const query = isPostgres(db)
    ? sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
    : sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`;
  return (await query.execute(db)).rows.map((r) => r.name);
}

/**
 * Reads the table in key order, a batch at a time after the last key seen
 * (no OFFSET: each read is an index seek, whatever the table's size; an
 * unkeyed table in one read), and inserts each batch as one statement.
 */
async function copyTable(
  from: AnyKysely,
  to: AnyKysely,
  spec: CopiedTable,
  batchSize: number,
  onProgress: CopyOptions['onProgress'],
): Promise<number> {
  let after: readonly unknown[] | undefined;
  let copied = 0;
  for (;;) {
    const rows = await readBatch(from, spec, after, spec.unkeyed ? undefined : batchSize);
    if (rows.length === 0) return copied;
    const columns = Object.keys(rows[0] ?? {}).length;
    // A wide table would pass the engines' parameter limits at full size: insert it in slices.
    const perInsert = Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMETERS / Math.max(1, columns))));
    for (let start = 0; start < rows.length; start += perInsert) {
      await to.insertInto(spec.table).values(rows.slice(start, start + perInsert)).execute();
    }
    copied += rows.length;
    onProgress?.(spec.table, copied);
    if (spec.unkeyed || rows.length < batchSize) return copied;
    const last = rows[rows.length - 1] as Record<string, unknown>;
    after = spec.key.map((column) => last[column]);
  }
}

function readBatch(from: AnyKysely, spec: CopiedTable, after: readonly unknown[] | undefined, limit: number | undefined): Promise<Record<string, unknown>[]> {
  const keys = sql.join(spec.key.map((column) => sql.ref(column)));
  let query = from.selectFrom(spec.table).selectAll();
  // A row-value comparison, (a, b) > (x, y): both engines have it, and it pages a composite key in one condition.
  if (after !== undefined) query = query.where(sql<boolean>`(${keys}) > (${sql.join(after.map((value) => sql`${value}`))})`);
  for (const column of spec.key) query = query.orderBy(column);
  return (limit === undefined ? query : query.limit(limit)).execute() as Promise<Record<string, unknown>[]>;
}

/** Sets the table's id sequence so the next id is one past the largest copied (1 for an empty table). */
async function moveSequencePast(to: AnyKysely, table: string): Promise<void> {
  await sql`SELECT setval(pg_get_serial_sequence(${table}, 'id'), coalesce(max(id), 0) + 1, false) FROM ${sql.table(table)}`.execute(to);
}

