/**
 * The embedded engine: one SQLite file in WAL mode, opened through Kysely.
 * A prepared-statement cache keeps better-sqlite3 from parsing every query again.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import { DatabaseOpenError, type Database } from './database.js';
import type { Schema } from './schema.js';

export interface OpenOptions {
  /** How long a writer waits for another's lock. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** Open without creating the folder or file (read-only commands). Default false. */
  readonly mustExist?: boolean;
}

export function openSqlite(path: string, options: OpenOptions = {}): Database {
  const absolute = resolve(path);
  if (!options.mustExist) {
    try {
      mkdirSync(dirname(absolute), { recursive: true });
    } catch (error) {
      throw new DatabaseOpenError(absolute, `its folder cannot be created (${codeOf(error)})`, { cause: error });
    }
  }
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new BetterSqlite3(absolute, { fileMustExist: options.mustExist ?? false });
  } catch (error) {
    throw new DatabaseOpenError(absolute, explain(error), { cause: error });
  }
  try {
    sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // Touch the schema so a file that is not a database fails here, not mid-run.
    sqlite.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    sqlite.close();
    throw new DatabaseOpenError(absolute, explain(error), { cause: error });
  }

  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  let closing: Promise<void> | undefined;
  return {
    engine: 'sqlite',
    path: absolute,
    db,
    close() {
      // Kysely's destroy closes the better-sqlite3 handle too.
      closing ??= db.destroy();
      return closing;
    },
  };
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * better-sqlite3 prepares a statement on every call Kysely makes; parsing a
 * 100-row upsert costs as much as running it. Prepared statements are reusable,
 * so keep the most recent ones by SQL text.
 */
function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql); // re-insert below: most recently used last
      } else {
        statement = sqlite.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}

function explain(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'SQLITE_NOTADB') return 'the file is not a SQLite database';
  if (code === 'SQLITE_CANTOPEN') return 'the file cannot be opened or created (check the path and its permissions)';
  if (code === 'SQLITE_READONLY') return 'the file is read-only';
  if (code === 'SQLITE_CORRUPT') return 'the database file is corrupt';
  return error instanceof Error ? error.message : String(error);
}
