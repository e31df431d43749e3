/**
 * The database, on either engine (docs/architecture.md, "Storage"): an SQLite
 * file, the embedded default for one daemon, or PostgreSQL, shared by several.
 * The same Kysely queries and migrations run on both.
 */
import type { Kysely } from 'kysely';
export { displayUrl } from '../../domain/scrub.js';
import type { Engine } from './engine.js';
import type { Schema } from './schema.js';

/** The database cannot be used. The CLI exits 1 with this message. */
export class DatabaseOpenError extends Error {
  readonly path: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot use the database ${path}: ${reason}`, options);
    this.name = 'DatabaseOpenError';
    this.path = path;
  }
}

export interface Database {
  readonly engine: Engine;
  /** Where it is, as it may be shown: the SQLite file's absolute path, or the PostgreSQL URL without its password. */
  readonly path: string;
  readonly db: Kysely<Schema>;
  /** Closing is idempotent. */
  close(): Promise<void>;
}

/** Which database: the `database` configuration section, a postgres:// URL, or an SQLite path. */
export type DatabaseTarget =
  | string
  | {
      /** Used when `url` is not set. */
      readonly sqlitePath?: string;
      readonly url?: string | undefined;
      readonly poolSize?: number;
      readonly statementTimeout?: number;
    };

export interface OpenDatabaseOptions {
  /** SQLite: open without creating the folder or file (read-only commands). Default false. */
  readonly mustExist?: boolean;
  /** PostgreSQL: an idle pooled connection failed (the pool replaces it). */
  readonly onIdleError?: (error: Error) => void;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** `database.url` set (or a postgres:// string): PostgreSQL; otherwise the SQLite file. */
export async function openDatabase(target: DatabaseTarget, options: OpenDatabaseOptions = {}): Promise<Database> {
  const settings = typeof target === 'string' ? (POSTGRES_URL.test(target) ? { url: target } : { sqlitePath: target }) : target;
  if (settings.url) {
    const { openPostgres } = await import('./postgres.js');
    return openPostgres(settings.url, {
      ...(settings.poolSize === undefined ? {} : { poolSize: settings.poolSize }),
      ...(settings.statementTimeout === undefined ? {} : { statementTimeoutMs: settings.statementTimeout }),
      ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
    });
  }
  if (settings.sqlitePath === undefined) throw new TypeError('openDatabase: neither a PostgreSQL url nor an SQLite path');
  const { openSqlite } = await import('./sqlite.js');
  return openSqlite(settings.sqlitePath, { ...(options.mustExist === undefined ? {} : { mustExist: options.mustExist }) });
}
